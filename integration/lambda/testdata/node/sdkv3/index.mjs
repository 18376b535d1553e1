// Imports the AWS SDK for JavaScript v3 without bundling it, as functions
// for Lambda's Node.js runtimes often do (no package.json, no node_modules).
import { ApiGatewayManagementApiClient, PostToConnectionCommand } from '@aws-sdk/client-apigatewaymanagementapi';

export const handler = async (event) => {
  const client = new ApiGatewayManagementApiClient({ endpoint: event.endpoint });
  await client.send(new PostToConnectionCommand({ ConnectionId: event.connectionId, Data: event.data }));
  return { posted: true, module: 'esm' };
};
