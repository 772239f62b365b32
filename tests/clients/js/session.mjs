// The AWS SDK for JavaScript v3 through the gateway: PutObject with the SDK's default checksum
// (CRC32), answered back on HEAD; a multipart lib-storage Upload; presigned PUT and GET;
// ListObjectsV2 pagination; deletes. Throws (exit 1) on the first mismatch.
// usage: node session.mjs ENDPOINT ACCESS_KEY SECRET_KEY BUCKET REGION
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, DeleteObjectCommand, DeleteBucketCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";

const [endpoint, accessKeyId, secretAccessKey, Bucket, region] = process.argv.slice(2, 7);
const s3 = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });
const get = async (Key) =>
  Buffer.from(await (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body.transformToByteArray());

await s3.send(new CreateBucketCommand({ Bucket }));
const small = {
  "ünï cødé/ø.txt": Buffer.from("unicode\n"),
  "dir with space/a+b c.txt": Buffer.from("plus\n"),
  "dirmarker/": Buffer.alloc(0),
};
for (const [Key, Body] of Object.entries(small)) {
  const put = await s3.send(new PutObjectCommand({ Bucket, Key, Body }));
  assert.ok(put.ChecksumCRC32, `PutObject ${Key} answers the CRC32 the SDK sent`);
  assert.ok((await get(Key)).equals(Body), `bytes of ${Key}`);
  // SeaweedFS keeps a "key/" object as a directory, without its metadata (the checksum
  // the gateway stored with it): the README's backend matrix says so.
  if (Key.endsWith("/") && process.env.BUCKETGATE_TEST_BACKEND_KIND === "seaweedfs") continue;
  const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: "ENABLED" }));
  assert.equal(head.ChecksumCRC32, put.ChecksumCRC32, `HEAD ${Key} answers the stored CRC32`);
  assert.equal(head.ChecksumType, "FULL_OBJECT");
}

const big = randomBytes(12 * 1024 * 1024 + 7);
const Key = "big/12m+ø.bin";
const up = await new Upload({ client: s3, params: { Bucket, Key, Body: big }, partSize: 5 * 1024 * 1024 }).done();
assert.match(up.ETag, /^"[0-9a-f]{32}-3"$/, "multipart ETag");
assert.ok((await get(Key)).equals(big), "bytes of the multipart object");
const head = await s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: "ENABLED" }));
console.log("multipart:", JSON.stringify({ etag: up.ETag, crc32: up.ChecksumCRC32, type: up.ChecksumType,
  headCrc32: head.ChecksumCRC32, headType: head.ChecksumType }));
assert.equal(head.ChecksumCRC32, up.ChecksumCRC32, "HEAD answers the completion's checksum");

const pk = "presigned/ünï +x.bin";
const pbody = randomBytes(100000);
const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket, Key: pk }), { expiresIn: 300 });
const pr = await fetch(putUrl, { method: "PUT", body: pbody });
assert.ok(pr.ok, `presigned PUT: ${pr.status} ${await pr.text()}`);
const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket, Key: pk }), { expiresIn: 300 });
const gr = await fetch(getUrl);
assert.ok(gr.ok, `presigned GET: ${gr.status}`);
assert.ok(Buffer.from(await gr.arrayBuffer()).equals(pbody), "presigned GET bytes");

const want = [0, 1, 2, 3, 4].map((i) => `page/k ${i}+ü`);
for (const k of want) await s3.send(new PutObjectCommand({ Bucket, Key: k, Body: k }));
let ContinuationToken, keys = [], pages = 0;
do {
  const r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: "page/", MaxKeys: 2, ContinuationToken }));
  pages++;
  keys.push(...(r.Contents || []).map((o) => o.Key));
  ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
  assert.ok(!r.IsTruncated || ContinuationToken, "a truncated page has a NextContinuationToken");
} while (ContinuationToken && pages < 10);
assert.equal(pages, 3);
assert.deepEqual(keys, want);

const all = await s3.send(new ListObjectsV2Command({ Bucket }));
for (const o of all.Contents || []) await s3.send(new DeleteObjectCommand({ Bucket, Key: o.Key }));
await s3.send(new DeleteBucketCommand({ Bucket }));
console.log("aws-sdk-js-v3 session OK");
