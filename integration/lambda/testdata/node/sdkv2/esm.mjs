// The same SDK imported from an ES module.
import AWS from 'aws-sdk';

export const handler = async () => (await new AWS.DynamoDB().listTables({}).promise()).TableNames;
