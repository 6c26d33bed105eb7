"""Upload one file with the stock tuspy client, to prove the server speaks standard tus.

Usage: python upload.py <base_url> --token=<token> <file> <photo_id> <job_id> <sha256>
           [--chunk BYTES] [--url UPLOAD_URL]
(--token= form: a base64url token may start with '-'.)
--url resumes a known upload. Prints "url <upload url>" as soon as the upload exists and
"uploaded <url>" at the end. tuspy retries a failed chunk (a cut connection, a 423) after a
HEAD for the server's offset.
"""

import argparse

from tusclient import client

p = argparse.ArgumentParser()
for name in ("base", "file", "photo_id", "job_id", "sha256"):
    p.add_argument(name)
p.add_argument("--token", required=True)
p.add_argument("--chunk", type=int, default=64 * 1024)
p.add_argument("--url")
a = p.parse_args()

tus = client.TusClient(f"{a.base}/v1/uploads", headers={"Authorization": f"Bearer {a.token}"})
options = dict(
    file_path=a.file,
    chunk_size=a.chunk,
    retries=10,
    retry_delay=1,
    metadata={
        "photo_id": a.photo_id,
        "job_id": a.job_id,
        "sha256": a.sha256,
        "filename": "photo.jpg",
        "filetype": "image/jpeg",
    },
)
if a.url:
    uploader = tus.uploader(url=a.url, **options)
else:
    uploader = tus.uploader(**options)
    uploader.set_url(uploader.create_url())
print(f"url {uploader.url}", flush=True)
uploader.upload()
print(f"uploaded {uploader.url}", flush=True)
