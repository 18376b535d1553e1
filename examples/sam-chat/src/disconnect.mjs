// $disconnect: forget the connection. API Gateway calls it at most once per
// connection and not always (an item it missed expires by its ttl, and
// sendmessage deletes connections that turn out to be gone).

import { errorFields, forgetConnection, log } from './shared.mjs';

export const handler = async (event) => {
  const connectionId = event?.requestContext?.connectionId;
  if (typeof connectionId !== 'string' || connectionId === '') {
    log('error', 'the event has no requestContext.connectionId');
    return { statusCode: 400, body: 'Bad request' };
  }
  try {
    await forgetConnection(connectionId);
  } catch (err) {
    log('error', 'deleting the connection failed', { connectionId, ...errorFields(err) });
    return { statusCode: 500, body: 'Failed to disconnect' };
  }
  log('info', 'disconnected', {
    connectionId,
    statusCode: event.requestContext.disconnectStatusCode,
    reason: event.requestContext.disconnectReason,
  });
  return { statusCode: 200, body: 'Disconnected' };
};
