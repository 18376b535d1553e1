// $default: anything that is not {"action":"sendmessage",...} gets a hint on
// how to use the API, posted back to the sender.

import { errorFields, log, managementApi, post } from './shared.mjs';

export const USAGE = JSON.stringify({
  type: 'usage',
  message: 'Send {"action":"sendmessage","message":"your text"} to talk to everyone connected.',
});

export const handler = async (event) => {
  const connectionId = event?.requestContext?.connectionId;
  if (typeof connectionId !== 'string' || connectionId === '') {
    log('error', 'the event has no requestContext.connectionId');
    return { statusCode: 400, body: 'Bad request' };
  }
  try {
    await post(managementApi(event.requestContext), connectionId, USAGE);
  } catch (err) {
    log('error', 'posting the usage hint failed', { connectionId, ...errorFields(err) });
    return { statusCode: 500, body: 'Failed to answer' };
  }
  return { statusCode: 200, body: 'Usage sent' };
};
