// A Node.js function that calls DynamoDB at AWS's own host name with plain
// https, as a bundle that inlines aws-sdk v2 does: no AWS_ENDPOINT_URL_*
// reaches it. It answers with the names of the tables it lists there.
const https = require('https');

exports.handler = async () => {
  const body = '{}';
  const tables = await new Promise((resolve, reject) => {
    const req = https.request({
      host: `dynamodb.${process.env.AWS_REGION}.amazonaws.com`,
      method: 'POST',
      path: '/',
      headers: {
        'Content-Type': 'application/x-amz-json-1.0',
        'X-Amz-Target': 'DynamoDB_20120810.ListTables',
        // DynamoDB Local checks the form of the signature, not its value.
        Authorization: 'AWS4-HMAC-SHA256 Credential=SWITCHBOARDLOCAL/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=00',
        'X-Amz-Date': '20260101T000000Z',
        'Content-Length': Buffer.byteLength(body),
      },
    }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(data).TableNames) : reject(new Error(`${res.statusCode} ${data}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
  return { statusCode: 200, body: 'node: ' + tables.join(',') };
};
