// What the sam-chat functions share: the DynamoDB client, the management
// API client that posts to connections, and small helpers. Nothing here
// knows where it runs: on AWS Lambda, or any runtime that gives the same
// environment.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';

// Clients are made once per execution environment and reused by every
// invocation it serves.
export const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));

// tableName returns the connections table's name, from TABLE_NAME.
export function tableName() {
  const name = process.env.TABLE_NAME;
  if (!name) {
    throw new Error('TABLE_NAME is not set: it names the connections table');
  }
  return name;
}

// A connection's item expires after the longest a connection can last on
// API Gateway (two hours), plus a margin, in case its $disconnect never ran.
export const CONNECTION_TTL_SECONDS = 2 * 60 * 60 + 10 * 60;

const managementClients = new Map();

// managementApi returns the client of the @connections API of the API and
// stage that sent the event: https://{domainName}/{stage}.
export function managementApi(requestContext) {
  const { domainName, stage } = requestContext ?? {};
  if (typeof domainName !== 'string' || domainName === '' || typeof stage !== 'string' || stage === '') {
    throw new Error('the event has no requestContext.domainName or requestContext.stage');
  }
  const endpoint = `https://${domainName}/${stage}`;
  let client = managementClients.get(endpoint);
  if (!client) {
    client = new ApiGatewayManagementApiClient({ endpoint });
    managementClients.set(endpoint, client);
  }
  return client;
}

// isGone reports whether err says that the connection no longer exists
// (HTTP 410 from the @connections API).
export function isGone(err) {
  return err instanceof GoneException || err?.name === 'GoneException' || err?.$metadata?.httpStatusCode === 410;
}

// post sends data (a string) to one connection. It resolves to true when
// the connection took it and false when the connection is gone; any other
// failure rejects.
export async function post(api, connectionId, data) {
  try {
    await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));
    return true;
  } catch (err) {
    if (isGone(err)) return false;
    throw err;
  }
}

// forgetConnection deletes a connection's item.
export async function forgetConnection(connectionId) {
  await ddb.send(new DeleteCommand({ TableName: tableName(), Key: { connectionId } }));
}

// log writes one JSON line (CloudWatch Logs Insights reads its fields).
export function log(level, msg, fields = {}) {
  const line = JSON.stringify({ level, msg, ...fields });
  if (level === 'error') console.error(line);
  else console.log(line);
}

// errorFields describes err for a log line: its name, message and, for AWS
// errors, the HTTP status and request id.
export function errorFields(err) {
  return {
    error: err?.name ?? 'Error',
    errorMessage: err?.message ?? String(err),
    httpStatus: err?.$metadata?.httpStatusCode,
    awsRequestId: err?.$metadata?.requestId,
  };
}
