/**
 * What the Functions host answers at `/` when no function took the request, from
 * azure-functions-host src/WebJobs.Script.WebHost/Middleware/HomepageMiddleware.cs (commit
 * 89dc438), lines 32-56: for the path "/" (any method), 204 when the app setting
 * AzureWebJobsDisableHomepage is "true" (case-insensitive), otherwise 200 text/html with the
 * host's landing page ("Your Azure Function App is up and running."). The page here is the
 * local host's own short stand-in for Microsoft's, with the same title.
 */
export function homePageAnswer(settings: Record<string, string | undefined>): { status: number; headers: Record<string, string>; body: Buffer } {
  if ((settings.AzureWebJobsDisableHomepage ?? '').toLowerCase() === 'true') {
    return { status: 204, headers: {}, body: Buffer.alloc(0) };
  }
  return { status: 200, headers: { 'content-type': 'text/html' }, body: Buffer.from(homePage) };
}

const homePage = `<!DOCTYPE html>
<html>
<head><title>Your Azure Function App is up and running.</title></head>
<body>
<h1>Your Azure Function App is up and running.</h1>
<p>This is the local host of cmg-token-auth (npm start), answering as the Functions host does at
its root. The API is under <a href="/api/health">/api</a>.</p>
</body>
</html>
`;
