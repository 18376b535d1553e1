// The REQUEST authorizer of the cdk fixture: ?token=let-me-in connects.
export const handler = async (event) => {
  const allow = event.queryStringParameters?.token === "let-me-in";
  return {
    principalId: "user",
    policyDocument: {
      Version: "2012-10-17",
      Statement: [{ Action: "execute-api:Invoke", Effect: allow ? "Allow" : "Deny", Resource: event.methodArn }],
    },
  };
};
