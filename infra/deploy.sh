#!/usr/bin/env bash
# Deploys cmg-token-auth to Azure with the az CLI: the infrastructure in infra/main.bicep, then
# the code as a zip package. Safe to run again: every step converges on the same state.
# Written for bash 3.2 as well (macOS), hence no mapfile, no ${var,,}, guarded empty arrays.
set -euo pipefail

# Parameter expansion rather than dirname, so --help and the "az missing" message need no
# external command at all.
script_path="${BASH_SOURCE[0]}"
[[ "$script_path" == */* ]] || script_path="./$script_path"
script_dir="$(cd "${script_path%/*}" && pwd)"
repo_root="$(cd "$script_dir/.." && pwd)"

usage() {
  local text
  IFS= read -r -d '' text <<'USAGE' || true
Usage: infra/deploy.sh --resource-group <name> [options]

Creates or updates the Azure resources of cmg-token-auth (Flex Consumption Function App,
managed identity, storage, Key Vault signing key, Application Insights) and publishes the code.

Required:
  -g, --resource-group <name>   resource group to deploy into (created if missing)

Options:
  -l, --location <region>       region, needed when the resource group does not exist yet;
                                must offer the Flex Consumption plan (e.g. westeurope, eastus2)
  -e, --environment <name>      environment name that seeds the resource names
                                (default: the resource group name)
  -s, --subscription <id|name>  subscription (default: az's current one)
      --key-type <RSA|EC>       signing key type: RSA 2048 (RS256) or EC P-256 (ES256)
      --approval-mode <auto|manual>
                                approval of internal registrations (default: manual)
      --internal-networks <cidrs>
                                comma-separated CIDRs counted as internal, e.g. the public
                                egress ranges of the corporate network (default: none)
      --admin-audience <aud>    audience of admin Entra ID tokens: the Application ID URI of
                                the admin app registration (see docs/deployment.md)
      --admin-app-role <role>   app role admins need (default: CmgTokenAuth.Admin)
      --console-client-id <id>  application (client) id the console signs in with (Entra ID);
                                its SPA redirect URI is added if missing (docs/deployment.md)
  -p, --parameters-file <path>  parameters of infra/main.bicep for this environment
                                (default: infra/main.parameters.json)
      --what-if                 show what the deployment would change, change nothing
      --infra-only              deploy the infrastructure, do not build or publish the code
  -h, --help                    show this help

The options above override the parameters file for this run only: a later run without them
deploys the file's (or the template's default) value again. Keep lasting choices in a
parameters file per environment.

Example:
  infra/deploy.sh -g rg-cmg-prod -l westeurope -e prod \
    --internal-networks 203.0.113.0/24 --admin-audience api://cmg-token-auth-admin
USAGE
  printf '%s' "$text"
}

die() {
  printf 'deploy.sh: error: %s\n' "$*" >&2
  exit 1
}

info() {
  printf '==> %s\n' "$*"
}

warn() {
  printf 'deploy.sh: warning: %s\n' "$*" >&2
}

# ---- arguments ---------------------------------------------------------------------------

resource_group=""
location=""
environment_name=""
subscription=""
key_type=""
approval_mode=""
internal_networks=""
internal_networks_set=false
admin_audience=""
admin_app_role=""
console_client_id=""
parameters_file="$repo_root/infra/main.parameters.json"
what_if=false
infra_only=false

need_value() {
  [[ $# -ge 2 && -n "$2" && "$2" != -* ]] || die "$1 needs a value (see --help)"
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    -h | --help)
      usage
      exit 0
      ;;
    -g | --resource-group)
      need_value "$@"
      resource_group="$2"
      shift 2
      ;;
    -l | --location)
      need_value "$@"
      location="$2"
      shift 2
      ;;
    -e | --environment)
      need_value "$@"
      environment_name="$2"
      shift 2
      ;;
    -s | --subscription)
      need_value "$@"
      subscription="$2"
      shift 2
      ;;
    --key-type)
      need_value "$@"
      key_type="$2"
      shift 2
      ;;
    --approval-mode)
      need_value "$@"
      approval_mode="$2"
      shift 2
      ;;
    --internal-networks)
      # An empty value is meaningful: no caller is internal.
      [[ $# -ge 2 ]] || die "$1 needs a value (see --help)"
      internal_networks="$2"
      internal_networks_set=true
      shift 2
      ;;
    --admin-audience)
      need_value "$@"
      admin_audience="$2"
      shift 2
      ;;
    --admin-app-role)
      need_value "$@"
      admin_app_role="$2"
      shift 2
      ;;
    --console-client-id)
      need_value "$@"
      console_client_id="$2"
      shift 2
      ;;
    -p | --parameters-file)
      need_value "$@"
      parameters_file="$2"
      shift 2
      ;;
    --what-if)
      what_if=true
      shift
      ;;
    --infra-only)
      infra_only=true
      shift
      ;;
    *)
      die "unknown argument: $1 (see --help)"
      ;;
  esac
done

[[ -n "$resource_group" ]] || die "--resource-group is required (see --help)"
[[ -n "$environment_name" ]] || environment_name="$resource_group"
[[ "$environment_name" =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,63}$ ]] ||
  die "--environment must be 1-64 letters, digits and dashes, starting with a letter or digit"
[[ -f "$parameters_file" ]] || die "parameters file not found: $parameters_file"
case "$key_type" in "" | RSA | EC) ;; *) die "--key-type must be RSA or EC" ;; esac
case "$approval_mode" in "" | auto | manual) ;; *) die "--approval-mode must be auto or manual" ;; esac
if [[ -n "$console_client_id" ]]; then
  [[ "$console_client_id" =~ ^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$ ]] ||
    die "--console-client-id must be an application (client) id, a GUID"
  [[ -n "$admin_audience" ]] || grep -q '"adminAudience"' "$parameters_file" ||
    die "--console-client-id needs --admin-audience (the console gets tokens for the admin API)"
fi
if [[ "$internal_networks_set" == true && -n "$internal_networks" ]]; then
  [[ "$internal_networks" =~ ^[0-9A-Fa-f:./,[:space:]]+$ ]] ||
    die "--internal-networks must be comma-separated CIDR ranges such as 10.0.0.0/8,fd00::/8"
fi

# ---- tools -------------------------------------------------------------------------------

if ! command -v az >/dev/null 2>&1; then
  die "the Azure CLI (az) is not installed or not on PATH.
  Install it: https://learn.microsoft.com/cli/azure/install-azure-cli
    Debian/Ubuntu: curl -sL https://aka.ms/InstallAzureCLIDeb | sudo bash
    macOS:         brew install azure-cli
    Windows:       winget install -e --id Microsoft.AzureCLI
  then sign in with: az login"
fi

sub_args=()
[[ -z "$subscription" ]] || sub_args=(--subscription "$subscription")

# az with the chosen subscription; the ${a[@]+...} form keeps bash 3.2 quiet under set -u.
azs() {
  az "$@" ${sub_args[@]+"${sub_args[@]}"}
}

if ! account="$(azs account show --query '[name, id, user.name]' --output tsv 2>/dev/null)"; then
  die "az is not signed in${subscription:+ to subscription $subscription}.
  Run: az login
  and, if you have several subscriptions: az account set --subscription <id>"
fi
info "Subscription: $(printf '%s' "$account" | tr '\r\n' '  ')"

if [[ "$what_if" == false && "$infra_only" == false ]]; then
  for tool in node npm zip; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "$tool is needed to build and package the code (or pass --infra-only)"
  done
fi

# ---- resource group ----------------------------------------------------------------------

if [[ "$(azs group exists --name "$resource_group" --output tsv | tr -d '\r')" == true ]]; then
  group_location="$(azs group show --name "$resource_group" --query location --output tsv | tr -d '\r')"
  location="${location:-$group_location}"
  info "Resource group $resource_group exists ($group_location)"
elif [[ "$what_if" == true ]]; then
  die "resource group $resource_group does not exist; what-if needs one.
  Create it with: az group create --name $resource_group --location <region>"
else
  [[ -n "$location" ]] || die "resource group $resource_group does not exist; pass --location to create it"
  info "Creating resource group $resource_group in $location"
  azs group create --name "$resource_group" --location "$location" \
    --tags application=cmg-token-auth "env-name=$environment_name" --output none
fi

# ---- infrastructure ----------------------------------------------------------------------

# One deployment name per environment: a rerun replaces the entry in the deployment history
# rather than piling up new ones.
deployment_name="cmg-token-auth-$environment_name"
template="$repo_root/infra/main.bicep"
params=(
  --parameters "@$parameters_file"
  --parameters "environmentName=$environment_name" "location=$location"
)
[[ -z "$key_type" ]] || params+=("keyType=$key_type")
[[ -z "$approval_mode" ]] || params+=("approvalMode=$approval_mode")
[[ "$internal_networks_set" == false ]] || params+=("internalNetworks=$internal_networks")
[[ -z "$admin_audience" ]] || params+=("adminAudience=$admin_audience")
[[ -z "$admin_app_role" ]] || params+=("adminAppRole=$admin_app_role")
[[ -z "$console_client_id" ]] || params+=("consoleClientId=$console_client_id")

if [[ "$what_if" == true ]]; then
  info "What-if for deployment $deployment_name (nothing is changed)"
  azs deployment group what-if --resource-group "$resource_group" --name "$deployment_name" \
    --template-file "$template" "${params[@]}"
  exit 0
fi

info "Deploying infrastructure ($deployment_name); the first run takes a few minutes"
azs deployment group create --resource-group "$resource_group" --name "$deployment_name" \
  --template-file "$template" "${params[@]}" --output none

deployment_output() {
  azs deployment group show --resource-group "$resource_group" --name "$deployment_name" \
    --query "properties.outputs.$1.value" --output tsv | tr -d '\r'
}

function_app="$(deployment_output functionAppName)"
function_url="$(deployment_output functionAppUrl)"
signing_key_id="$(deployment_output signingKeyId)"
key_vault="$(deployment_output keyVaultName)"
[[ -n "$function_app" && -n "$function_url" ]] || die "the deployment did not report the function app's name and URL"

# ---- code --------------------------------------------------------------------------------

# Copies the production files into a staging directory, installs production dependencies
# there, drops whatever .funcignore names (gitignore-style: a leading or inner slash anchors
# a pattern to the root; negations are not supported) and zips the result.
apply_funcignore() {
  local dir="$1" line pattern
  [[ -f "$repo_root/.funcignore" ]] || return 0
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line%$'\r'}"
    [[ -n "${line//[[:space:]]/}" && "$line" != \#* ]] || continue
    if [[ "$line" == \!* ]]; then
      warn ".funcignore: negated pattern '$line' is not supported by deploy.sh; ignored"
      continue
    fi
    pattern="${line%/}"
    if [[ "$pattern" == */* ]]; then
      find "$dir" -mindepth 1 -path "$dir/${pattern#/}" -prune -exec rm -rf {} +
    else
      find "$dir" -mindepth 1 -name "$pattern" -prune -exec rm -rf {} +
    fi
  done <"$repo_root/.funcignore"
}

publish() {
  local attempt
  for attempt in 1 2 3; do
    if azs functionapp deployment source config-zip --resource-group "$resource_group" \
      --name "$function_app" --src "$package" --output none; then
      return 0
    fi
    # Fresh role assignments can take a few minutes to reach the storage data plane.
    [[ "$attempt" == 3 ]] || {
      warn "publish attempt $attempt failed; retrying in 60 s (new role assignments may still be propagating)"
      sleep 60
    }
  done
  return 1
}

if [[ "$infra_only" == false ]]; then
  staging="$(mktemp -d "${TMPDIR:-/tmp}/cmg-token-auth.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  package="$staging/package.zip"

  info "Building"
  (
    cd "$repo_root"
    # A clean dist/: a stale compiled function would otherwise be deployed and registered.
    rm -rf dist
    npm ci --no-audit --no-fund
    npm run build
  )

  info "Packaging"
  mkdir "$staging/app"
  cp -R "$repo_root/dist" "$repo_root/host.json" "$repo_root/package.json" "$repo_root/package-lock.json" "$staging/app/"
  (
    cd "$staging/app"
    npm ci --omit=dev --ignore-scripts --no-audit --no-fund
  )
  rm -rf "$staging/app/node_modules/.bin"
  apply_funcignore "$staging/app"
  (
    cd "$staging/app"
    zip -qr "$package" .
  )

  info "Publishing to $function_app"
  publish || die "publishing failed; rerun infra/deploy.sh (every step is idempotent)"
fi

# ---- console sign-in ---------------------------------------------------------------------

# The console (/api/console) signs in with an Entra app registration whose single-page-
# application redirect URIs must list the console's bridge page exactly. Adds it when the
# signed-in account may change the registration; otherwise says what to run.
console_sign_in_setup() {
  local client_id="$1" redirect_uri="$2" current updated
  if ! current="$(az ad app show --id "$client_id" --query spa.redirectUris --output json 2>/dev/null)"; then
    warn "could not read app registration $client_id. Add $redirect_uri as its single-page-application
  redirect URI (Microsoft Entra admin center > App registrations > Authentication; docs/deployment.md)."
    return 0
  fi
  current="$(printf '%s' "$current" | tr -d '\r\n ')"
  case "$current" in
    *"\"$redirect_uri\""*)
      info "Console sign-in: $redirect_uri is registered"
      return 0
      ;;
    "" | "null" | "[]") updated="[\"$redirect_uri\"]" ;;
    *) updated="${current%]},\"$redirect_uri\"]" ;;
  esac
  # Graph replaces the whole list, so the existing URIs are sent again with the new one.
  if az rest --method PATCH --uri "https://graph.microsoft.com/v1.0/applications(appId='$client_id')" \
    --headers "Content-Type=application/json" --body "{\"spa\":{\"redirectUris\":$updated}}" --output none; then
    info "Console sign-in: added $redirect_uri to the app registration's SPA redirect URIs"
  else
    warn "could not add $redirect_uri to app registration $client_id (you need to own it, or be an
  Application Administrator). Add it as a single-page-application redirect URI (docs/deployment.md)."
  fi
}

console_url="$function_url/api/console"
if [[ -n "$console_client_id" ]]; then
  console_sign_in_setup "$console_client_id" "$console_url/redirect.html"
fi

# ---- summary -----------------------------------------------------------------------------

cat <<SUMMARY

Deployed cmg-token-auth ($environment_name) to $resource_group.

  Function app   $function_app
  Base URL       $function_url
  Health         $function_url/api/health
  JWKS           $function_url/api/.well-known/jwks.json
  Device API     $function_url/api/register, /api/register/internal, /api/renew, /api/authenticate
  Admin API      $function_url/api/bulk-tokens, /api/devices
  Console        $console_url
  Key Vault      $key_vault
  Signing key    $signing_key_id

Next: as an administrator holding the admin app role, sign in and create a bulk
registration token (3 days):

  az login
  CMG_URL=$function_url CMG_ADMIN_AUDIENCE=${admin_audience:-<admin audience>} npx bulk-registration-token new --lifetime 4320

SUMMARY
if [[ -z "$console_client_id" ]] && ! grep -q '"consoleClientId"' "$parameters_file"; then
  printf '%s\n\n' "The console's Entra sign-in is not set up: pass --console-client-id <app id> (docs/deployment.md,
\"The console\"); until then the console cannot sign anyone in."
fi
if [[ -z "$admin_audience" ]]; then
  if ! grep -q '"adminAudience"' "$parameters_file"; then
    warn "no admin audience is configured, so the admin API rejects every call. Set up the admin
  app registration (docs/deployment.md) and rerun with --admin-audience api://<app-id-uri>, or
  put adminAudience in $parameters_file."
  fi
fi
