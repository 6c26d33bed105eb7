// Upload one file with the stock tus-js-client, to prove the server speaks standard tus.
// Usage: node upload.mjs <base_url> --token=<token> <file> <photo_id> <job_id> <sha256>
//          [--chunk BYTES] [--override] [--url UPLOAD_URL]
// (--token= form: a base64url token may start with '-', which would read as an option.)
// --override sends PATCH as POST with X-HTTP-Method-Override; --url resumes a known upload.
// Prints "url <upload url>" as soon as the upload exists, "uploaded <url>" at the end.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import * as tus from "tus-js-client";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    chunk: { type: "string", default: String(64 * 1024) },
    override: { type: "boolean", default: false },
    url: { type: "string" },
    token: { type: "string" },
  },
});
const [base, file, photoId, jobId, sha256] = positionals;
const token = values.token;
const data = readFileSync(file);

const upload = new tus.Upload(data, {
  endpoint: `${base}/v1/uploads`,
  uploadUrl: values.url ?? null,
  headers: { Authorization: `Bearer ${token}` },
  chunkSize: Number(values.chunk),
  overridePatchMethod: values.override,
  // A 423 (the upload still locked by a silent request) is retried like a network error.
  retryDelays: [0, 300, 600, 1000, 1500, 2000, 3000, 3000],
  metadata: { photo_id: photoId, job_id: jobId, sha256, filename: "photo.jpg", filetype: "image/jpeg" },
  onUploadUrlAvailable() {
    console.log(`url ${upload.url}`);
  },
  onError(err) {
    console.error(`upload failed: ${err}`);
    process.exit(1);
  },
  onSuccess() {
    console.log(`uploaded ${upload.url}`);
  },
});
upload.start();
