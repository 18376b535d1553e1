// An ES module: a .js file under package.json "type": "module".
import { hostname } from 'node:os';

const loadedAt = typeof hostname();

export const handler = async (event, context) => ({
  kind: 'esm',
  requireDefined: typeof require !== 'undefined',
  loadedAt,
  functionName: context.functionName,
});
