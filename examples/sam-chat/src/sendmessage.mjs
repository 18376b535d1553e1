// sendmessage: {"action":"sendmessage","message":"hi"} goes to every
// connected client, the sender included, as
// {"type":"message","from":NAME,"message":"hi","sentAt":ISO-8601}.
// A message that is not acceptable gets {"type":"error","message":WHY}
// back, and nobody else sees it. Connections that turn out to be gone
// (410) are deleted from the table.

import { GetCommand, paginateScan } from '@aws-sdk/lib-dynamodb';
import { ddb, errorFields, forgetConnection, log, managementApi, post, tableName } from './shared.mjs';

export const MAX_MESSAGE_LENGTH = 1000; // characters
const MAX_BODY_BYTES = 8 * 1024; // the whole frame, before parsing it
// C0 and C1 control characters other than tab and newline.
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/u;

// parseMessage returns { message } for an acceptable request body, or
// { error } saying what is wrong with it.
export function parseMessage(body) {
  if (typeof body !== 'string') return { error: 'the message must be a text frame' };
  if (Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES) {
    return { error: `the frame is larger than ${MAX_BODY_BYTES} bytes` };
  }
  let req;
  try {
    req = JSON.parse(body);
  } catch {
    return { error: 'the frame is not JSON' };
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    return { error: 'the frame must be a JSON object' };
  }
  const { message } = req;
  if (typeof message !== 'string') return { error: '"message" must be a string' };
  const text = message.normalize('NFC').trim();
  if (text === '') return { error: '"message" is empty' };
  if ([...text].length > MAX_MESSAGE_LENGTH) {
    return { error: `"message" is longer than ${MAX_MESSAGE_LENGTH} characters` };
  }
  if (CONTROL.test(text)) return { error: '"message" contains control characters' };
  return { message: text };
}

// senderName returns the name the sender connected with.
async function senderName(connectionId) {
  const { Item } = await ddb.send(
    new GetCommand({
      TableName: tableName(),
      Key: { connectionId },
      ProjectionExpression: '#name',
      ExpressionAttributeNames: { '#name': 'name' },
    }),
  );
  return typeof Item?.name === 'string' ? Item.name : 'anonymous';
}

export const handler = async (event) => {
  const ctx = event?.requestContext;
  const sender = ctx?.connectionId;
  if (typeof sender !== 'string' || sender === '') {
    log('error', 'the event has no requestContext.connectionId');
    return { statusCode: 400, body: 'Bad request' };
  }
  let api;
  try {
    api = managementApi(ctx);
  } catch (err) {
    log('error', 'no management API for this event', { connectionId: sender, ...errorFields(err) });
    return { statusCode: 500, body: 'Failed to send' };
  }

  const { message, error } = parseMessage(event.body);
  if (error) {
    log('info', 'message refused', { connectionId: sender, reason: error });
    try {
      await post(api, sender, JSON.stringify({ type: 'error', message: error }));
    } catch (err) {
      log('error', 'posting the error to the sender failed', { connectionId: sender, ...errorFields(err) });
    }
    return { statusCode: 400, body: error };
  }

  let data;
  try {
    const from = await senderName(sender);
    const sentAt = new Date(Number.isFinite(ctx.requestTimeEpoch) ? ctx.requestTimeEpoch : Date.now()).toISOString();
    data = JSON.stringify({ type: 'message', from, message, sentAt });
  } catch (err) {
    log('error', 'reading the sender failed', { connectionId: sender, ...errorFields(err) });
    return { statusCode: 500, body: 'Failed to send' };
  }

  let sent = 0;
  let gone = 0;
  let failed = 0;
  const deliver = async (connectionId) => {
    try {
      if (await post(api, connectionId, data)) {
        sent++;
        return;
      }
      gone++;
      log('info', 'connection is gone: deleting it', { connectionId });
      await forgetConnection(connectionId);
    } catch (err) {
      failed++;
      log('error', 'delivery failed', { connectionId, ...errorFields(err) });
    }
  };
  try {
    const now = Math.floor(Date.now() / 1000);
    const pages = paginateScan(
      { client: ddb },
      {
        TableName: tableName(),
        ProjectionExpression: 'connectionId',
        // Expired items linger until DynamoDB deletes them.
        FilterExpression: 'attribute_not_exists(#ttl) OR #ttl > :now',
        ExpressionAttributeNames: { '#ttl': 'ttl' },
        ExpressionAttributeValues: { ':now': now },
      },
    );
    for await (const page of pages) {
      const ids = (page.Items ?? []).map((item) => item.connectionId).filter((id) => typeof id === 'string');
      // Each delivery catches its own failure: one bad connection does not
      // stop the others.
      await Promise.all(ids.map(deliver));
    }
  } catch (err) {
    log('error', 'reading the connections failed', { connectionId: sender, sent, ...errorFields(err) });
    return { statusCode: 500, body: 'Failed to send' };
  }
  log('info', 'message sent', { connectionId: sender, sent, gone, failed });
  return failed > 0 ? { statusCode: 500, body: 'Some deliveries failed' } : { statusCode: 200, body: 'Sent' };
};
