// The queue worker and the stream consumer of the cdk fixture (one asset).
// The worker answers queued messages through the management API at
// https://{domainName}/{stage}; the stream consumer greets each new
// connection through the client's configured endpoint (no endpoint in code).
const { ApiGatewayManagementApiClient, PostToConnectionCommand } = require('@aws-sdk/client-apigatewaymanagementapi');

exports.handler = async (event) => {
  const failures = [];
  for (const record of event.Records) {
    try {
      if (record.eventSource === 'aws:sqs') {
        const { connectionId, domainName, stage, text } = JSON.parse(record.body);
        const api = new ApiGatewayManagementApiClient({ endpoint: `https://${domainName}/${stage}` });
        await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: `worked: ${text}` }));
      } else if (record.eventSource === 'aws:dynamodb' && record.eventName === 'INSERT') {
        const connectionId = record.dynamodb.NewImage.connectionId.S;
        const api = new ApiGatewayManagementApiClient({});
        await api.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: `stream: ${record.eventName}` }));
      }
    } catch (err) {
      if (err.name === 'GoneException') continue;
      console.error('record failed', err);
      failures.push({ itemIdentifier: record.messageId || record.dynamodb.SequenceNumber });
    }
  }
  return { batchItemFailures: failures };
};
