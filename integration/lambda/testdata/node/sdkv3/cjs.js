// The same in CommonJS.
const { ApiGatewayManagementApiClient, PostToConnectionCommand } = require('@aws-sdk/client-apigatewaymanagementapi');

exports.handler = async (event) => {
  const client = new ApiGatewayManagementApiClient({ endpoint: event.endpoint });
  await client.send(new PostToConnectionCommand({ ConnectionId: event.connectionId, Data: event.data }));
  return { posted: true, module: 'cjs' };
};
