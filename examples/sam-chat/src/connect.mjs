// $connect: remember the connection, with the name the client chose in the
// query string (wss://.../dev?name=alice), so that sendmessage can reach it.
// A name that is not acceptable refuses the connection (HTTP 400).

import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { CONNECTION_TTL_SECONDS, ddb, errorFields, log, tableName } from './shared.mjs';

export const MAX_NAME_LENGTH = 32;
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} _.'-]*$/u;

// parseName returns the display name for the query string's name: trimmed,
// 1 to MAX_NAME_LENGTH letters, digits, spaces and _ . ' - (starting with a
// letter or digit); "anonymous" when there is none; or null when it is not
// acceptable.
export function parseName(raw) {
  if (raw === undefined || raw === null) return 'anonymous';
  if (typeof raw !== 'string') return null;
  const name = raw.normalize('NFC').trim();
  if (name === '') return 'anonymous';
  if ([...name].length > MAX_NAME_LENGTH || !NAME.test(name)) return null;
  return name;
}

export const handler = async (event) => {
  const connectionId = event?.requestContext?.connectionId;
  if (typeof connectionId !== 'string' || connectionId === '') {
    log('error', 'the event has no requestContext.connectionId');
    return { statusCode: 400, body: 'Bad request' };
  }
  const name = parseName(event.queryStringParameters?.name);
  if (name === null) {
    log('info', 'connection refused: bad name', { connectionId });
    return {
      statusCode: 400,
      body: `name must be 1 to ${MAX_NAME_LENGTH} letters, digits, spaces, _ . ' or -`,
    };
  }
  const now = Math.floor(Date.now() / 1000);
  try {
    await ddb.send(
      new PutCommand({
        TableName: tableName(),
        Item: {
          connectionId,
          name,
          connectedAt: event.requestContext.connectedAt ?? now * 1000,
          ttl: now + CONNECTION_TTL_SECONDS,
        },
      }),
    );
  } catch (err) {
    log('error', 'storing the connection failed', { connectionId, ...errorFields(err) });
    return { statusCode: 500, body: 'Failed to connect' };
  }
  log('info', 'connected', { connectionId, name });
  return { statusCode: 200, body: 'Connected' };
};
