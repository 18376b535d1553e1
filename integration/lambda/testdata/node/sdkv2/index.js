// A function that bundles the AWS SDK for JavaScript v2, which ignores
// AWS_ENDPOINT_URL_<SERVICE>: Switchboard's runtime client makes it honour
// them (integration/lambda tests).
const AWS = require('aws-sdk');

const listTables = (client) => client.listTables({}).promise().then((r) => r.TableNames);

exports.handler = async (event) => {
  switch (event.op) {
    case 'env':
      // The endpoint AWS_ENDPOINT_URL_DYNAMODB names.
      return listTables(new AWS.DynamoDB());
    case 'explicit':
      // An endpoint passed to the client wins.
      return listTables(new AWS.DynamoDB({ endpoint: event.endpoint }));
    case 'global': {
      // So does one the code sets in AWS.config.
      const saved = AWS.config.endpoint;
      AWS.config.update({ endpoint: event.endpoint });
      try {
        return await listTables(new AWS.DynamoDB());
      } finally {
        AWS.config.endpoint = saved;
      }
    }
    case 'document': {
      const doc = new AWS.DynamoDB.DocumentClient();
      const r = await doc.scan({ TableName: 'Items' }).promise();
      return r.Items;
    }
    case 'clientsPath': {
      // require('aws-sdk/clients/...') loads the SDK too.
      const DynamoDB = require('aws-sdk/clients/dynamodb');
      return listTables(new DynamoDB());
    }
    case 'post': {
      // The management API at the API's own execute-api name.
      const api = new AWS.ApiGatewayManagementApi({ endpoint: event.endpoint });
      await api.postToConnection({ ConnectionId: event.connectionId, Data: event.data }).promise();
      return 'posted';
    }
    default:
      return { unknown: event.op };
  }
};
