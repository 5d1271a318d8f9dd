/**
 * The redirect bridge page (redirect.html): Entra ID sends the authorization response here;
 * MSAL hands it to the console page, which redeems the code with its PKCE verifier.
 */
import { broadcastResponseToMainFrame } from '@azure/msal-browser/redirect-bridge';

broadcastResponseToMainFrame().catch((error: unknown) => {
  const message = document.createElement('p');
  message.textContent = `Sign-in could not be completed: ${error instanceof Error ? error.message : String(error)}. Open the console again.`;
  document.body.append(message);
});
