// A WebSocket route handler (integration/lambda TestRequestIDTiesFrameLogAndInvocation):
// it logs a line and answers with the request ids it was given.
'use strict';
exports.handler = async (event, context) => {
  console.log('handling ' + event.requestContext.routeKey);
  return {
    statusCode: 200,
    body: JSON.stringify({ eventRequestId: event.requestContext.requestId, awsRequestId: context.awsRequestId }),
  };
};
