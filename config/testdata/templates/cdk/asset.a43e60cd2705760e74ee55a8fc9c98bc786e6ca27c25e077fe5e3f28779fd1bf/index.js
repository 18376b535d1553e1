// The chat handlers of the cdk fixture (config/template_test.go): one asset,
// shared by the connect and message functions, as lambda.Code.fromAsset('lambda')
// makes it.
exports.handler = async (event) => {
  const { routeKey, connectionId } = event.requestContext;
  if (routeKey === "$connect" || routeKey === "$disconnect") {
    return { statusCode: 200 };
  }
  return { statusCode: 200, body: JSON.stringify({ routeKey, connectionId, table: process.env.TABLE_NAME, body: event.body }) };
};
