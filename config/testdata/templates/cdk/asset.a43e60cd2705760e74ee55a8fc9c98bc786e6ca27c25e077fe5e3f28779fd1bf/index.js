// The chat handlers of the cdk fixture: one asset, shared by the connect and
// message functions, as lambda.Code.fromAsset('lambda') makes it. It uses
// the AWS SDK for JavaScript v3 without bundling it, as Lambda's Node.js
// runtime provides it.
const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');
const { DynamoDBDocumentClient, PutCommand, DeleteCommand } = require('@aws-sdk/lib-dynamodb');
const { SQSClient, SendMessageCommand } = require('@aws-sdk/client-sqs');

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const sqs = new SQSClient({});

exports.handler = async (event) => {
  const { routeKey, connectionId, domainName, stage } = event.requestContext;
  switch (routeKey) {
    case '$connect':
      await ddb.send(new PutCommand({ TableName: process.env.TABLE_NAME, Item: { connectionId } }));
      return { statusCode: 200 };
    case '$disconnect':
      await ddb.send(new DeleteCommand({ TableName: process.env.TABLE_NAME, Key: { connectionId } }));
      return { statusCode: 200 };
    case 'sendmessage': {
      const { text } = JSON.parse(event.body);
      // The work goes through the queue; the worker posts the answer back.
      await sqs.send(new SendMessageCommand({
        QueueUrl: process.env.QUEUE_URL,
        MessageBody: JSON.stringify({ connectionId, domainName, stage, text }),
      }));
      return { statusCode: 200, body: JSON.stringify({ queued: text, table: process.env.TABLE_NAME }) };
    }
    default:
      return { statusCode: 200 };
  }
};
