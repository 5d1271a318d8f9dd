import { TableClient, TableServiceClient } from '@azure/data-tables';

function serviceClient(): TableServiceClient {
  return TableServiceClient.fromConnectionString(process.env.TEST_STORAGE_CONNECTION ?? '', { allowInsecureConnection: true });
}

/** Every entity of every table whose name starts with `prefix`, keyed by table name. */
export async function dumpTables(prefix: string): Promise<Record<string, Array<Record<string, unknown>>>> {
  const dump: Record<string, Array<Record<string, unknown>>> = {};
  for await (const table of serviceClient().listTables()) {
    const name = table.name ?? '';
    if (!name.startsWith(prefix)) continue;
    const client = TableClient.fromConnectionString(process.env.TEST_STORAGE_CONNECTION ?? '', name, { allowInsecureConnection: true });
    dump[name] = [];
    for await (const entity of client.listEntities()) dump[name].push(entity);
  }
  return dump;
}

/** How many entities the tables with `prefix` hold, for "nothing was stored" checks. */
export async function countEntities(prefix: string): Promise<number> {
  const dump = await dumpTables(prefix);
  return Object.values(dump).reduce((sum, rows) => sum + rows.length, 0);
}
