// The queue and stream consumer of the cdk fixture.
exports.handler = async (event) => {
  console.log(JSON.stringify({ records: event.Records.length }));
  return { batchItemFailures: [] };
};
