// Upload one file with the stock tus-js-client, in small chunks, to prove the server speaks
// standard tus. Usage: node upload.mjs <base_url> <token> <file> <photo_id> <job_id> <sha256>
import { readFileSync } from "node:fs";
import * as tus from "tus-js-client";

const [base, token, file, photoId, jobId, sha256] = process.argv.slice(2);
const data = readFileSync(file);

const upload = new tus.Upload(data, {
  endpoint: `${base}/v1/uploads`,
  headers: { Authorization: `Bearer ${token}` },
  chunkSize: 64 * 1024,
  retryDelays: [0, 200, 500],
  metadata: { photo_id: photoId, job_id: jobId, sha256, filename: "photo.jpg", filetype: "image/jpeg" },
  onError(err) {
    console.error(`upload failed: ${err}`);
    process.exit(1);
  },
  onSuccess() {
    console.log(`uploaded ${upload.url}`);
  },
});
upload.start();
