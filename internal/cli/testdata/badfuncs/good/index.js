exports.handler = async (event) => ({ statusCode: 200, body: 'good: ' + JSON.parse(event.body).n });
