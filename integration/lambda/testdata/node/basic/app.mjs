// An ES module by its extension.
export async function handler(event) {
  return { kind: 'mjs', url: import.meta.url.startsWith('file://'), event };
}
