// Appends the records of each invocation ("EVENTNAME:pk") as a JSON line
// to the file $OUT.
const fs = require('fs');
exports.handler = async (event) => {
  const recs = event.Records.map((r) => r.eventName + ':' + r.dynamodb.Keys.pk.S);
  fs.appendFileSync(process.env.OUT, JSON.stringify(recs) + '\n');
  return {};
};
