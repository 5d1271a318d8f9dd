import { randomUUID } from 'node:crypto';
import { getProgrammingModel, type BindingInfo, type FunctionRegistration } from './functionsCore.js';

/**
 * Runs one invocation exactly as the Azure Functions Node.js worker does
 * (azure-functions-nodejs-worker, src/eventHandlers/InvocationHandler.ts): the invocation
 * request the host would send goes to the programming model `@azure/functions` installed with
 * `setProgrammingModel`, which builds the handler's arguments (`getArguments`: the library's
 * own HttpRequest, the camel-cased timer payload, the InvocationContext), runs the handler
 * (`invokeFunction`) and converts its result to the RPC response (`getResponse`). So the
 * library's request and response conversion — the code that runs in Azure — runs for every
 * local request and test.
 */

// The shapes of @azure/functions-core's RPC types (the worker's types-core/index.d.ts), as far
// as the local host fills or reads them.
export interface RpcNullableString {
  value?: string | null;
}
export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  cookies?: unknown[] | null;
  nullableHeaders?: Record<string, RpcNullableString> | null;
  nullableParams?: Record<string, RpcNullableString> | null;
  nullableQuery?: Record<string, RpcNullableString> | null;
}
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  http?: RpcHttpData | null;
}
interface RpcParameterBinding {
  name?: string | null;
  data?: RpcTypedData | null;
}
export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: RpcParameterBinding[] | null;
  returnValue?: RpcTypedData | null;
}
type RpcLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
interface InvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], callback: (...args: unknown[]) => unknown): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}
interface ProgrammingModel {
  getInvocationModel(coreContext: unknown): InvocationModel | Promise<InvocationModel>;
}

export type InvocationLog = (level: RpcLogLevel, category: 'user' | 'system' | 'customMetric', message: string) => void;

/** The name of the registration's trigger binding: the worker sends the trigger's data under it. */
export function triggerBindingName(registration: FunctionRegistration): string {
  const entry = Object.entries(registration.bindings).find(([, binding]) => binding.direction === 'in' && binding.type.endsWith('Trigger'));
  if (!entry) throw new Error(`function ${registration.name} has no trigger binding`);
  return entry[0];
}

/**
 * Invokes `registration` with the trigger data the host would send. Resolves with the RPC
 * response the worker would return to the host; rejects with the handler's error, as the
 * worker reports a failed invocation.
 */
export async function invokeAsWorker(
  registration: FunctionRegistration,
  trigger: RpcTypedData,
  log: InvocationLog,
): Promise<RpcInvocationResponse> {
  const model = getProgrammingModel() as ProgrammingModel | undefined;
  if (!model) throw new Error('@azure/functions has not installed its programming model (setProgrammingModel was never called)');
  const invocationId = randomUUID();
  const coreContext: { invocationId: string; request: unknown; metadata: unknown; state?: string; log: InvocationLog } = {
    invocationId,
    request: {
      invocationId,
      functionId: registration.name,
      inputData: [{ name: triggerBindingName(registration), data: trigger }],
      // The worker declares RpcHttpTriggerMetadataRemoved, and the library reads no trigger
      // metadata for HTTP or timer triggers (converters/fromRpcTriggerMetadata.ts).
      triggerMetadata: {},
    },
    // What reaches the library after the worker's round trip through the RPC metadata
    // (fromCoreFunctionMetadata, toCoreFunctionMetadata): type, direction and data type.
    metadata: { name: registration.name, functionId: registration.name, bindings: rpcBindings(registration.bindings) },
    log,
  };
  const invocationModel = await model.getInvocationModel(coreContext);
  const { context, inputs } = await invocationModel.getArguments();
  coreContext.state = 'invocation';
  let result: unknown;
  try {
    result = await invocationModel.invokeFunction(context, inputs, registration.handler);
  } finally {
    delete coreContext.state;
  }
  return invocationModel.getResponse(context, result);
}

function rpcBindings(bindings: Record<string, BindingInfo>): Record<string, { type: string; direction: string; dataType?: string }> {
  const result: Record<string, { type: string; direction: string; dataType?: string }> = {};
  for (const [name, binding] of Object.entries(bindings)) {
    result[name] = {
      type: binding.type,
      direction: binding.direction,
      ...(typeof binding.dataType === 'string' ? { dataType: binding.dataType } : {}),
    };
  }
  return result;
}

/** The HTTP answer in an invocation response: the `$return` binding's, or an `http` output's. */
export function httpResult(response: RpcInvocationResponse): RpcHttpData | undefined {
  return response.returnValue?.http ?? response.outputData?.find((output) => output.data?.http)?.data?.http ?? undefined;
}

/** The bytes of an RPC body, however the library typed it. */
export function bodyBytes(body: RpcTypedData | null | undefined): Buffer {
  if (!body) return Buffer.alloc(0);
  if (body.bytes) return Buffer.from(body.bytes);
  if (typeof body.string === 'string') return Buffer.from(body.string);
  if (typeof body.json === 'string') return Buffer.from(body.json);
  return Buffer.alloc(0);
}
