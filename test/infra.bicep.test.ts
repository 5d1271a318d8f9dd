import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { azureAppSettings } from '../shared/config.js';

/**
 * Requirement: infra/ deploys the service keyless and least-privileged (issue "Infrastructure as
 * code and deployment with the az CLI"). The Bicep CLI is not available here, so the files are
 * parsed with the tree-sitter Bicep grammar and checked on the syntax tree.
 */

const repoRoot = resolve(__dirname, '..');
const infraDir = join(repoRoot, 'infra');
// Resolved through node's module lookup so a hoisted or nested install both work.
const grammarWasm = require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm');

const keyVaultCryptoUser = '12338af0-0e69-4776-bea7-57ae8d297424';
const keyVaultCryptoOfficer = '14b46e9e-c2b7-41b4-b07b-48a6ebf60603';
const platformSetting = /^(AzureWebJobsStorage__|APPLICATIONINSIGHTS_|FUNCTIONS_|WEBSITE_)/;

let parser: Parser;

interface BicepFile {
  name: string;
  root: Node;
}

const files = new Map<string, BicepFile>();

function bicepPaths(): string[] {
  return (readdirSync(infraDir, { recursive: true }) as string[])
    .filter((path) => path.endsWith('.bicep'))
    .map((path) => relative(repoRoot, join(infraDir, path)))
    .sort();
}

beforeAll(async () => {
  await Parser.init();
  parser = new Parser();
  // Bytes, not a path: loading by path makes web-tree-sitter import('fs/promises'), which jest's
  // CommonJS runtime refuses.
  parser.setLanguage(await Language.load(readFileSync(grammarWasm)));
  for (const path of bicepPaths()) {
    const tree = parser.parse(readFileSync(join(repoRoot, path), 'utf8'));
    if (!tree) throw new Error(`tree-sitter returned no tree for ${path}`);
    files.set(path, { name: path, root: tree.rootNode });
  }
});

function file(path: string): BicepFile {
  const found = files.get(path);
  if (!found) throw new Error(`${path} is missing`);
  return found;
}

/** Every ERROR or MISSING node as file:line:column, the way an editor would point at it. */
function syntaxProblems(name: string, root: Node): string[] {
  const problems: string[] = [];
  const visit = (node: Node): void => {
    if (node.isMissing || node.isError) {
      const { row, column } = node.startPosition;
      const what = node.isMissing ? `missing ${node.type}` : `unexpected ${JSON.stringify(node.text.slice(0, 40))}`;
      problems.push(`${name}:${row + 1}:${column + 1}: ${what}`);
    }
    for (const child of node.children) visit(child);
  };
  visit(root);
  return problems;
}

// ---- small tree helpers -------------------------------------------------------------------

/** Named children, without comments (which the grammar lets appear anywhere). */
function parts(node: Node): Node[] {
  return node.namedChildren.filter((child) => child.type !== 'comment' && child.type !== 'diagnostic_comment');
}

function stringValue(node: Node | undefined): string | undefined {
  if (node?.type !== 'string') return undefined;
  if (node.namedChildren.some((child) => child.type === 'interpolation')) return undefined;
  return node.namedChildren.map((child) => child.text).join('');
}

function propertyKey(property: Node): string | undefined {
  const key = parts(property)[0];
  if (!key) return undefined;
  return key.type === 'string' ? stringValue(key) : key.type === 'identifier' ? key.text : undefined;
}

/** The key/value pairs of an object literal (nested resource declarations are skipped). */
function entries(object: Node): Array<[string, Node]> {
  const result: Array<[string, Node]> = [];
  for (const property of parts(object).filter((child) => child.type === 'object_property')) {
    const [, value] = parts(property);
    const key = propertyKey(property);
    if (key !== undefined && value) result.push([key, value]);
  }
  return result;
}

function prop(object: Node | undefined, ...path: string[]): Node | undefined {
  let current = object;
  for (const key of path) {
    if (current?.type !== 'object') return undefined;
    current = entries(current).find(([name]) => name === key)?.[1];
  }
  return current;
}

interface Resource {
  file: string;
  symbol: string;
  /** The full type without api version, e.g. Microsoft.KeyVault/vaults/keys. */
  type: string;
  existing: boolean;
  body: Node;
  node: Node;
  parent: Resource | undefined;
}

function resources(bicep: BicepFile): Resource[] {
  const found: Resource[] = [];
  const visit = (node: Node, parent: Resource | undefined): void => {
    if (node.type === 'resource_declaration') {
      const [symbol, type] = parts(node);
      const body = parts(node).find((child) => child.type === 'object');
      const declared = (stringValue(type) ?? '').split('@')[0]!;
      const resource: Resource = {
        file: bicep.name,
        symbol: parent ? `${parent.symbol}::${symbol!.text}` : symbol!.text,
        type: parent && !declared.includes('/') ? `${parent.type}/${declared}` : declared,
        existing: node.children.some((child) => child.type === 'existing'),
        body: body!,
        node,
        parent,
      };
      found.push(resource);
      for (const child of parts(body!)) {
        for (const nested of parts(child)) if (nested.type === 'resource_declaration') visit(nested, resource);
      }
      return;
    }
    for (const child of parts(node)) visit(child, parent);
  };
  visit(bicep.root, undefined);
  return found;
}

function allResources(): Resource[] {
  return [...files.values()].flatMap(resources);
}

function declarations(bicep: BicepFile, type: string): Map<string, Node> {
  const found = new Map<string, Node>();
  for (const node of parts(bicep.root).filter((child) => child.type === type)) {
    found.set(parts(node)[0]!.text, node);
  }
  return found;
}

/** The value expression of `var name = <value>`. */
function variableValue(bicep: BicepFile, name: string): Node | undefined {
  const declaration = declarations(bicep, 'variable_declaration').get(name);
  return declaration ? parts(declaration).at(-1) : undefined;
}

/** The decorators written directly above a declaration. */
function decorators(declaration: Node): Map<string, Node[]> {
  const found = new Map<string, Node[]>();
  let previous = declaration.previousNamedSibling;
  while (previous?.type === 'comment') previous = previous.previousNamedSibling;
  if (previous?.type !== 'decorators') return found;
  for (const decorator of parts(previous)) {
    const call = parts(decorator)[0];
    const name = call?.childForFieldName('function')?.text;
    const args = call?.childForFieldName('arguments');
    if (name) found.set(name, args ? parts(args) : []);
  }
  return found;
}

function callName(node: Node | undefined): string | undefined {
  return node?.type === 'call_expression' ? node.childForFieldName('function')?.text : undefined;
}

function callArguments(node: Node): Node[] {
  const args = node.childForFieldName('arguments');
  return args ? parts(args) : [];
}

function descendants(root: Node, type: string): Node[] {
  return root.descendantsOfType(type).filter((node): node is Node => node !== null);
}

function where(node: Node, bicep: BicepFile): string {
  return `${bicep.name}:${node.startPosition.row + 1}`;
}

// ---- the app settings, followed from function.bicep back to main.bicep ----------------------

interface AppSetting {
  name: string;
  value: Node;
}

function functionAppSettings(): AppSetting[] {
  const functionModule = file('infra/app/function.bicep');
  const settings = resources(functionModule).find(
    (resource) => resource.type === 'Microsoft.Web/sites/config' && stringValue(prop(resource.body, 'name')) === 'appsettings',
  );
  expect(settings).toBeDefined();
  const properties = prop(settings!.body, 'properties')!;
  // The settings resource takes a parameter; the values are assembled in main.bicep.
  expect(properties.type).toBe('identifier');
  expect(declarations(functionModule, 'parameter_declaration').has(properties.text)).toBe(true);

  const main = file('infra/main.bicep');
  const moduleDeclaration = [...declarations(main, 'module_declaration').values()].find(
    (node) => stringValue(parts(node)[1]) === 'app/function.bicep',
  );
  expect(moduleDeclaration).toBeDefined();
  let value = prop(parts(moduleDeclaration!).find((child) => child.type === 'object'), 'params', properties.text);
  if (value?.type === 'identifier') value = variableValue(main, value.text);
  expect(value?.type).toBe('object');
  return entries(value!).map(([name, node]) => ({ name, value: node }));
}

// ---- tests ---------------------------------------------------------------------------------

describe('infra/**/*.bicep parse with the tree-sitter Bicep grammar', () => {
  it('has main.bicep and its modules', () => {
    expect([...files.keys()]).toEqual(
      expect.arrayContaining([
        'infra/main.bicep',
        'infra/app/function.bicep',
        'infra/app/identity.bicep',
        'infra/app/keyvault.bicep',
        'infra/app/monitoring.bicep',
        'infra/app/rbac.bicep',
        'infra/app/storage.bicep',
      ]),
    );
  });

  it.each(bicepPaths())('%s has no syntax error', (path) => {
    expect(syntaxProblems(path, file(path).root)).toEqual([]);
  });

  it('the checker reports a syntax error with its file, line and column', () => {
    const broken = ["param name string = 'x'", 'var settings = {', '  a: 1', '  b: [...other]', '}', ''].join('\n');
    const problems = syntaxProblems('broken.bicep', parser.parse(broken)!.rootNode);
    expect(problems).toEqual(['broken.bicep:4:7: unexpected "..."']);
  });

  it('the checker reports a missing closing brace where the parser gave up waiting for it', () => {
    const problems = syntaxProblems('unclosed.bicep', parser.parse("var a = {\n  b: 'c'\n")!.rootNode);
    expect(problems).toEqual(['unclosed.bicep:2:9: missing }']);
  });

  it('every module path in main.bicep names a file that exists', () => {
    const main = file('infra/main.bicep');
    for (const node of declarations(main, 'module_declaration').values()) {
      expect(files.has(`infra/${stringValue(parts(node)[1])}`)).toBe(true);
    }
  });
});

describe('app settings', () => {
  it('are exactly azureAppSettings from shared/config.ts, plus platform settings', () => {
    const names = functionAppSettings().map((setting) => setting.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.filter((name) => !platformSetting.test(name)).sort()).toEqual([...azureAppSettings].sort());
  });

  it('connect the host to storage through the identity, and App Insights with Entra auth', () => {
    const settings = new Map(functionAppSettings().map((setting) => [setting.name, setting.value]));
    expect([...settings.keys()]).toEqual(
      expect.arrayContaining([
        'AzureWebJobsStorage__accountName',
        'AzureWebJobsStorage__credential',
        'AzureWebJobsStorage__clientId',
        'APPLICATIONINSIGHTS_CONNECTION_STRING',
        'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
      ]),
    );
    expect(settings.has('AzureWebJobsStorage')).toBe(false);
    expect(stringValue(settings.get('AzureWebJobsStorage__credential'))).toBe('managedidentity');
    expect(settings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')!.text).toMatch(/^'Authorization=AAD;ClientId=\$\{.+\.clientId\}'$/);
    expect(settings.get('AZURE_CLIENT_ID')!.text).toMatch(/\.clientId$/);
    expect(stringValue(settings.get('ALLOW_ADMIN_KEY_IN_AZURE'))).toBe('false');
  });

  it('hold no account key, connection string with a key, or listKeys()', () => {
    for (const { name, value } of functionAppSettings()) {
      expect([name, value.text]).not.toEqual([name, expect.stringMatching(/AccountKey|SharedAccessKey|DefaultEndpointsProtocol|listKeys\s*\(|list[A-Z]\w*\(/)]);
      expect([name, callName(value)]).not.toEqual([name, expect.stringMatching(/^list/)]);
    }
  });

  it('no template calls a list*() function, which would read keys or SAS tokens', () => {
    for (const bicep of files.values()) {
      for (const call of descendants(bicep.root, 'call_expression')) {
        const callee = call.childForFieldName('function');
        const name = callee?.type === 'member_expression' ? callee.childForFieldName('property')?.text : callee?.text;
        expect([where(call, bicep), name]).not.toEqual([where(call, bicep), expect.stringMatching(/^list/i)]);
      }
    }
  });
});

describe('role assignments', () => {
  const roleAssignments = (): Resource[] =>
    allResources().filter((resource) => resource.type === 'Microsoft.Authorization/roleAssignments' && !resource.existing);

  /** The role definition GUID, following `subscriptionResourceId(..., roleVar)` to its variable. */
  function roleId(assignment: Resource): string | undefined {
    const definition = prop(assignment.body, 'properties', 'roleDefinitionId');
    const last = definition?.type === 'call_expression' ? callArguments(definition).at(-1) : definition;
    if (last?.type === 'identifier') return stringValue(variableValue(file(assignment.file), last.text));
    return stringValue(last);
  }

  it('exist, each with a scope and a name guid(scope.id, principalId, roleId)', () => {
    const assignments = roleAssignments();
    expect(assignments.length).toBeGreaterThanOrEqual(4);
    for (const assignment of assignments) {
      const at = `${assignment.file} ${assignment.symbol}`;
      const scope = prop(assignment.body, 'scope');
      expect([at, scope?.type]).toEqual([at, expect.stringMatching(/^(identifier|resource_expression)$/)]);
      const name = prop(assignment.body, 'name');
      expect([at, callName(name)]).toEqual([at, 'guid']);
      const args = callArguments(name!);
      expect([at, args.length]).toEqual([at, 3]);
      // Bound to the scope it is assigned on, so two scopes never share an assignment name.
      expect([at, args[0]!.text]).toEqual([at, `${scope!.text}.id`]);
      expect([at, roleId(assignment)]).toEqual([at, expect.stringMatching(/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/)]);
      expect([at, stringValue(prop(assignment.body, 'properties', 'principalType'))]).toEqual([at, 'ServicePrincipal']);
    }
  });

  it('give one variable per role id, with the role name in a comment above it', () => {
    for (const assignment of roleAssignments()) {
      const definition = prop(assignment.body, 'properties', 'roleDefinitionId')!;
      const variable = callArguments(definition).at(-1)!;
      expect(variable.type).toBe('identifier');
      const declaration = declarations(file(assignment.file), 'variable_declaration').get(variable.text)!;
      expect(declaration.previousNamedSibling?.type).toBe('comment');
    }
  });

  it('grant Key Vault Crypto User (not Crypto Officer) on the signing key, not the vault', () => {
    const onKeys = roleAssignments().filter((assignment) => roleId(assignment) === keyVaultCryptoUser);
    expect(onKeys).toHaveLength(1);
    const assignment = onKeys[0]!;
    const scope = prop(assignment.body, 'scope')!;
    const target = resources(file(assignment.file)).find((resource) => resource.symbol === scope.text);
    expect(target?.type).toBe('Microsoft.KeyVault/vaults/keys');

    for (const bicep of files.values()) {
      const strings = descendants(bicep.root, 'string_content').map((node) => node.text);
      expect(strings.filter((text) => text.includes(keyVaultCryptoOfficer))).toEqual([]);
    }
  });

  it('let the identity use tables, host blobs and App Insights ingestion', () => {
    const granted = roleAssignments().map(roleId);
    expect(granted).toEqual(
      expect.arrayContaining([
        '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3', // Storage Table Data Contributor
        'b7e6dc6d-f1e8-4753-8033-0f276bb0955b', // Storage Blob Data Owner
        '3913510d-42f4-4e42-8a64-420c390055eb', // Monitoring Metrics Publisher
      ]),
    );
  });
});

describe('resources', () => {
  const one = (type: string): Resource => {
    const matching = allResources().filter((resource) => resource.type === type && !resource.existing);
    expect(matching).toHaveLength(1);
    return matching[0]!;
  };

  it('storage is keyless, TLS 1.2, https only, with no public blob access', () => {
    const storage = one('Microsoft.Storage/storageAccounts').body;
    expect(prop(storage, 'properties', 'allowSharedKeyAccess')?.text).toBe('false');
    expect(stringValue(prop(storage, 'properties', 'minimumTlsVersion'))).toBe('TLS1_2');
    expect(prop(storage, 'properties', 'allowBlobPublicAccess')?.text).toBe('false');
    expect(prop(storage, 'properties', 'supportsHttpsTrafficOnly')?.text).toBe('true');
    expect(one('Microsoft.Storage/storageAccounts/blobServices/containers')).toBeDefined();
  });

  it('the key vault uses RBAC and soft delete, and its key rotates with rotate + notify actions and an expiry', () => {
    const vault = one('Microsoft.KeyVault/vaults').body;
    expect(prop(vault, 'properties', 'enableRbacAuthorization')?.text).toBe('true');
    expect(prop(vault, 'properties', 'enableSoftDelete')?.text).toBe('true');
    expect(prop(vault, 'properties', 'enablePurgeProtection')).toBeDefined();

    const key = one('Microsoft.KeyVault/vaults/keys').body;
    const policy = prop(key, 'properties', 'rotationPolicy');
    expect(prop(policy, 'attributes', 'expiryTime')).toBeDefined();
    const actions = parts(prop(policy, 'lifetimeActions')!).map((action) => stringValue(prop(action, 'action', 'type')));
    expect(actions.sort()).toEqual(['notify', 'rotate']);

    const keyvault = file('infra/app/keyvault.bicep');
    const keyType = declarations(keyvault, 'parameter_declaration').get('keyType')!;
    expect(parts(decorators(keyType).get('allowed')![0]!).map(stringValue)).toEqual(['RSA', 'EC']);
    expect(stringValue(parts(keyType).at(-1))).toBe('RSA');
    expect(parts(declarations(keyvault, 'parameter_declaration').get('rsaKeySize')!).at(-1)!.text).toBe('2048');
    expect(prop(key, 'properties', 'curveName')!.text).toContain("'P-256'");
  });

  it('the function app runs on Flex Consumption (FC1), Linux, Node.js 20, deployed with the identity', () => {
    const plan = one('Microsoft.Web/serverfarms').body;
    expect(stringValue(prop(plan, 'sku', 'name'))).toBe('FC1');
    expect(stringValue(prop(plan, 'sku', 'tier'))).toBe('FlexConsumption');

    const site = one('Microsoft.Web/sites').body;
    expect(stringValue(prop(site, 'kind'))).toBe('functionapp,linux');
    expect(prop(site, 'properties', 'httpsOnly')?.text).toBe('true');
    const config = prop(site, 'properties', 'functionAppConfig');
    expect(stringValue(prop(config, 'runtime', 'name'))).toBe('node');
    const nodeVersion = prop(config, 'runtime', 'version')!;
    const versionParam = declarations(file('infra/app/function.bicep'), 'parameter_declaration').get(nodeVersion.text);
    expect(stringValue(versionParam ? parts(versionParam).at(-1) : nodeVersion)).toBe('20');
    expect(stringValue(prop(config, 'deployment', 'storage', 'authentication', 'type'))).toBe('UserAssignedIdentity');
  });

  it('Application Insights takes Entra-authenticated ingestion only', () => {
    expect(prop(one('Microsoft.Insights/components').body, 'properties', 'DisableLocalAuth')?.text).toBe('true');
  });

  it('names derive from resourceToken with the agreed prefixes', () => {
    const main = file('infra/main.bicep');
    expect(variableValue(main, 'resourceToken')?.text).toBe(
      'toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))',
    );
    const names = descendants(main.root, 'string')
      .map((node) => node.text)
      .filter((text) => text.includes('${resourceToken}'));
    for (const prefix of ['func-', 'plan-', 'id-', 'kv-', 'st', 'appi-', 'log-']) {
      expect(names).toContain(`'${prefix}\${resourceToken}'`);
    }
  });
});

describe('parameters and outputs', () => {
  it('every parameter has @description starting "Required." (no default) or "Optional." (a default)', () => {
    for (const bicep of files.values()) {
      for (const [name, node] of declarations(bicep, 'parameter_declaration')) {
        const at = `${bicep.name} param ${name}`;
        const description = stringValue(decorators(node).get('description')?.[0]);
        const hasDefault = parts(node).length > 2;
        expect([at, description]).toEqual([at, expect.stringMatching(hasDefault ? /^Optional\. / : /^Required\. /)]);
        expect([at, /^[a-z][A-Za-z0-9]*$/.test(name)]).toEqual([at, true]);
      }
    }
  });

  it('every output has a @description, and main.bicep outputs the agreed values and no secret', () => {
    for (const bicep of files.values()) {
      for (const [name, node] of declarations(bicep, 'output_declaration')) {
        expect([`${bicep.name} output ${name}`, decorators(node).has('description')]).toEqual([`${bicep.name} output ${name}`, true]);
      }
    }
    const outputs = [...declarations(file('infra/main.bicep'), 'output_declaration').keys()].sort();
    expect(outputs).toEqual(['functionAppName', 'functionAppUrl', 'keyVaultName', 'signingKeyId', 'storageAccountName']);
    for (const name of outputs) expect(name).not.toMatch(/secret|password|connectionString|accountKey/i);
  });

  it('main.parameters.json sets only parameters main.bicep declares', () => {
    const json = JSON.parse(readFileSync(join(infraDir, 'main.parameters.json'), 'utf8')) as {
      $schema: string;
      parameters: Record<string, { value: unknown }>;
    };
    expect(json.$schema).toMatch(/deploymentParameters\.json#$/);
    const declared = declarations(file('infra/main.bicep'), 'parameter_declaration');
    for (const name of Object.keys(json.parameters)) expect([name, declared.has(name)]).toEqual([name, true]);
  });
});
