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
       infra/deploy.sh --resource-group <name> --smoke [-e <environment>]

Creates or updates the Azure resources of cmg-token-auth (Flex Consumption Function App,
managed identity, storage, Key Vault signing key, Application Insights), publishes the code
and checks the result (health, JWKS, and the address the service sees for this machine).

Required:
  -g, --resource-group <name>   resource group to deploy into (created if missing)

Options:
  -l, --location <region>       region, needed when the resource group does not exist yet;
                                must offer the Flex Consumption plan (e.g. westeurope, eastus2)
  -e, --environment <name>      environment name that seeds the resource names: 1-49
                                letters, digits and dashes (default: the resource group name)
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
  -p, --parameters-file <path>  a .bicepparam file for this environment
                                (default: infra/main.bicepparam)
      --what-if                 show what the deployment would change, change nothing
      --infra-only              deploy the infrastructure, do not build, publish or check
      --package <zip>           publish this package (built elsewhere, by a CI job say)
                                instead of building one here
      --smoke                   only check an existing deployment: health, JWKS, the
                                address the service sees for this machine next to
                                INTERNAL_NETWORKS, and that a forged X-Forwarded-For
                                changes nothing
  -h, --help                    show this help

The options above override the parameters file for this run only: a later run without them
deploys the file's (or the template's default) value again. Keep lasting choices in a
parameters file per environment.

Before anything is created it checks that you may create role definitions and assignments,
and pins az's Bicep CLI to 0.49.2. A deployment is retried for up to 15 minutes while a new
role definition or identity replicates, a first publish for about 10 minutes while the new
role assignments propagate; the smoke check also sends a forged X-Forwarded-For, which must
change nothing. Every az call is bounded by a timeout (see docs/deployment.md).

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
parameters_file="$repo_root/infra/main.bicepparam"
what_if=false
infra_only=false
smoke_only=false
package_file=""

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
    --smoke)
      smoke_only=true
      shift
      ;;
    --package)
      need_value "$@"
      package_file="$2"
      shift 2
      ;;
    *)
      die "unknown argument: $1 (see --help)"
      ;;
  esac
done

[[ -n "$resource_group" ]] || die "--resource-group is required (see --help)"
[[ -n "$environment_name" ]] || environment_name="$resource_group"
# The longest name that keeps every name derived from it within its resource's rules; the
# binding one is the ARM deployment name cmg-token-auth-<env> (at most 64 characters). The
# table in docs/deployment.md ("Names") lists each derived name and its limit.
max_environment_length=49
[[ "$environment_name" =~ ^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$ && ${#environment_name} -le $max_environment_length ]] ||
  die "--environment must be 1-$max_environment_length letters, digits and dashes, starting and ending with a letter or digit
  (it is part of the deployment name cmg-token-auth-<environment>, which ARM limits to 64 characters;
  without -e it is the resource group name)"
[[ -f "$parameters_file" ]] || die "parameters file not found: $parameters_file"
[[ "$parameters_file" == *.bicepparam ]] ||
  die "--parameters-file must be a .bicepparam file (a copy of infra/main.bicepparam whose 'using' points at main.bicep)"
[[ "$smoke_only" == false || ("$what_if" == false && "$infra_only" == false) ]] ||
  die "--smoke cannot be combined with --what-if or --infra-only"
if [[ -n "$package_file" ]]; then
  [[ -f "$package_file" && "$package_file" == *.zip ]] || die "--package must name an existing .zip file"
  package_file="$(cd "$(dirname "$package_file")" && pwd)/$(basename "$package_file")"
fi
case "$key_type" in "" | RSA | EC) ;; *) die "--key-type must be RSA or EC" ;; esac
case "$approval_mode" in "" | auto | manual) ;; *) die "--approval-mode must be auto or manual" ;; esac
if [[ -n "$console_client_id" ]]; then
  [[ "$console_client_id" =~ ^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$ ]] ||
    die "--console-client-id must be an application (client) id, a GUID"
  [[ -n "$admin_audience" ]] || grep -Eq '^[[:space:]]*param[[:space:]]+adminAudience[[:space:]]*=' "$parameters_file" ||
    die "--console-client-id needs --admin-audience (the console gets tokens for the admin API)"
fi
if [[ "$internal_networks_set" == true && -n "$internal_networks" ]]; then
  [[ "$internal_networks" =~ ^[0-9A-Fa-f:./,[:space:]]+$ ]] ||
    die "--internal-networks must be comma-separated CIDR ranges, such as 203.0.113.0/24 (IPv4) and 2001:db8:1::/48 (IPv6)"
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

# Every az call runs under timeout(1): the CLI has been seen waiting forever (Flex
# Consumption's post-deployment check when the site never answers 2xx). GNU coreutils has it;
# on macOS it is gtimeout from Homebrew's coreutils.
timeout_cmd=""
for candidate in timeout gtimeout; do
  if command -v "$candidate" >/dev/null 2>&1; then
    timeout_cmd="$candidate"
    break
  fi
done
[[ -n "$timeout_cmd" ]] || die "timeout (GNU coreutils) is needed to bound every az call.
  macOS: brew install coreutils     Debian/Ubuntu: apt-get install coreutils"

# Bounds in seconds. CMG_DEPLOY_AZ_TIMEOUT replaces all of them (the tests use a short one).
quick_timeout="${CMG_DEPLOY_AZ_TIMEOUT:-120}"      # account, group, deployment show, settings
deploy_timeout="${CMG_DEPLOY_AZ_TIMEOUT:-2700}"    # az deployment group create / what-if
publish_timeout="${CMG_DEPLOY_AZ_TIMEOUT:-900}"    # one config-zip attempt, upload included
publish_budget="${CMG_DEPLOY_PUBLISH_BUDGET:-600}" # retrying publish while roles propagate
smoke_budget="${CMG_DEPLOY_SMOKE_BUDGET:-300}"     # waiting for health to answer 200
# After a publish that uploaded but could not see the host start: health gets longer.
host_ready_budget="${CMG_DEPLOY_HOST_READY_BUDGET:-600}"
# Retrying the deployment while a new role definition or identity replicates through Entra/ARM.
replication_budget="${CMG_DEPLOY_REPLICATION_BUDGET:-900}"
# az's own post-publish health poll: at most this many checks, host_check_interval s apart,
# once az says it is checking the app's health (its loop has been seen never to end).
host_check_trials="${CMG_DEPLOY_HOST_CHECK_TRIALS:-24}"
host_check_interval="${CMG_DEPLOY_HOST_CHECK_INTERVAL:-5}"
for bound in "$quick_timeout" "$deploy_timeout" "$publish_timeout" "$publish_budget" "$smoke_budget" \
  "$host_ready_budget" "$replication_budget" "$host_check_trials" "$host_check_interval"; do
  [[ "$bound" =~ ^[0-9]+$ && "$bound" -gt 0 ]] || die "timeouts and budgets must be whole seconds above 0, not '$bound'"
done

# Time and waiting go through these two, so the tests can run ten minutes of retries in a
# second: CMG_DEPLOY_CLOCK names a command printing epoch seconds, CMG_DEPLOY_SLEEP one taking
# seconds. Unset (always, outside the tests) they are date +%s and sleep.
now() {
  if [[ -n "${CMG_DEPLOY_CLOCK:-}" ]]; then "$CMG_DEPLOY_CLOCK"; else date +%s; fi
}
pause() {
  if [[ -n "${CMG_DEPLOY_SLEEP:-}" ]]; then "$CMG_DEPLOY_SLEEP" "$1"; else sleep "$1"; fi
}

sub_args=()
[[ -z "$subscription" ]] || sub_args=(--subscription "$subscription")

# Scratch space for az's error output, the staged app and its package.
work="$(mktemp -d "${TMPDIR:-/tmp}/cmg-token-auth.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# az with the chosen subscription under a time bound; returns az's status, or 124 when the
# bound cut it off. The ${a[@]+...} form keeps bash 3.2 quiet under set -u.
az_bounded() {
  local seconds="$1" status=0
  shift
  "$timeout_cmd" --kill-after=10 "$seconds" az "$@" ${sub_args[@]+"${sub_args[@]}"} || status=$?
  # 124: timed out; 137: killed after ignoring the TERM.
  if [[ "$status" == 124 || "$status" == 137 ]]; then return 124; fi
  return "$status"
}

# az under a time bound without --subscription, for the commands that take none (bicep, rest,
# ad): they are not scoped to a subscription, or name it in their URL.
az_unscoped() {
  local seconds="$1" status=0
  shift
  "$timeout_cmd" --kill-after=10 "$seconds" az "$@" || status=$?
  if [[ "$status" == 124 || "$status" == 137 ]]; then return 124; fi
  return "$status"
}

# az_bounded for calls that need no special handling: a timeout is reported here.
azs_within() {
  local seconds="$1" status=0
  shift
  az_bounded "$seconds" "$@" || status=$?
  if [[ "$status" == 124 ]]; then
    printf 'deploy.sh: error: az %s did not answer within %s s and was stopped. Check your network and az (az account show), then rerun.\n' "$1 $2" "$seconds" >&2
  fi
  return "$status"
}

azs() {
  azs_within "$quick_timeout" "$@"
}

# azs for the commands az_unscoped runs.
azu() {
  local status=0
  az_unscoped "$quick_timeout" "$@" || status=$?
  if [[ "$status" == 124 ]]; then
    printf 'deploy.sh: error: az %s did not answer within %s s and was stopped. Check your network and az (az account show), then rerun.\n' "$1 $2" "$quick_timeout" >&2
  fi
  return "$status"
}

account_status=0
account="$(azs account show --query '[name, id, user.name]' --output tsv 2>/dev/null)" || account_status=$?
if [[ "$account_status" == 124 ]]; then
  # azs's own message went to /dev/null with az's.
  die "az account show did not answer within $quick_timeout s and was stopped. Check your network and az, then rerun."
elif [[ "$account_status" != 0 ]]; then
  die "az is not signed in${subscription:+ to subscription $subscription}.
  Run: az login
  and, if you have several subscriptions: az account set --subscription <id>"
fi
info "Subscription: $(printf '%s' "$account" | tr '\r\n' '  ')"
# az prints the query's values one per line (tsv); the id is the one shaped like a GUID.
subscription_id="$(printf '%s\n' "$account" | grep -Eio '[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}' | head -n 1)" || true

if [[ "$what_if" == false && "$infra_only" == false && "$smoke_only" == false && -z "$package_file" ]]; then
  for tool in node npm zip; do
    command -v "$tool" >/dev/null 2>&1 ||
      die "$tool is needed to build and package the code (or pass --infra-only)"
  done
fi
if [[ "$what_if" == false && "$infra_only" == false ]]; then
  command -v curl >/dev/null 2>&1 || die "curl is needed for the smoke check (or pass --infra-only)"
fi

# One deployment name per environment: a rerun replaces the entry in the deployment history
# rather than piling up new ones.
deployment_name="cmg-token-auth-$environment_name"

deployment_output() {
  azs deployment group show --resource-group "$resource_group" --name "$deployment_name" \
    --query "properties.outputs.$1.value" --output tsv | tr -d '\r'
}

# ---- smoke check -------------------------------------------------------------------------

# GET or POST with curl, bounded; prints the body, then the status on a line of its own. A
# third argument is sent as X-Forwarded-For.
http() {
  local method="$1" url="$2" forwarded="${3:-}"
  local args=(--silent --show-error --max-time 30 --write-out '\n%{http_code}')
  [[ -z "$forwarded" ]] || args+=(--header "X-Forwarded-For: $forwarded")
  if [[ "$method" == POST ]]; then
    args+=(--request POST --header 'content-type: application/json' --data '{}')
  fi
  curl "${args[@]}" "$url"
}

json_string() {
  # The value of a top-level "name":"value" member of a small JSON document (no jq needed).
  printf '%s' "$2" | tr -d '\n' | sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"
}

# An address inside the first range of INTERNAL_NETWORKS: for IPv4 the first host of the
# network (the network address itself for /31 and /32), for IPv6 the prefix with ::1 (or the
# address as written when it does not end in ::).
address_inside() {
  local cidr address prefix n mask
  cidr="$(printf '%s' "${1%%,*}" | tr -d '[:space:]')"
  address="${cidr%%/*}"
  prefix=""
  [[ "$cidr" != */* ]] || prefix="${cidr#*/}"
  if [[ "$address" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    n=$(((BASH_REMATCH[1] << 24) | (BASH_REMATCH[2] << 16) | (BASH_REMATCH[3] << 8) | BASH_REMATCH[4]))
    prefix="${prefix:-32}"
    if ((prefix <= 30)); then
      mask=$(((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF))
      n=$(((n & mask) + 1))
    fi
    printf '%d.%d.%d.%d' $(((n >> 24) & 255)) $(((n >> 16) & 255)) $(((n >> 8) & 255)) $((n & 255))
  elif [[ "$address" == *::  && "$prefix" != 128 ]]; then
    printf '%s1' "$address"
  else
    printf '%s' "$address"
  fi
}

# POST /api/register/internal with an empty body, optionally with a forged X-Forwarded-For.
# The network check comes first, so the answer says what the service made of the caller:
# "outside <address>" (403 network_forbidden names the address it saw), "outside" (no address),
# "inside" (it went on and refused the body: nothing is stored), or "other <status> <body>".
registration_verdict() {
  local url="$1" forwarded="${2:-}" response status body address
  response="$(http POST "$url/api/register/internal" "$forwarded" 2>&1)" || true
  status="${response##*$'\n'}"
  body="${response%$'\n'*}"
  if [[ "$status" == 403 && "$(json_string code "$body")" == network_forbidden ]]; then
    address="$(json_string detail "$body" | sed -n 's/.*the caller \([^ ]*\) is outside.*/\1/p')"
    [[ "$address" != "(address" ]] || address=""
    printf 'outside%s' "${address:+ $address}"
  elif [[ "$status" == 400 || "$status" == 415 ]]; then
    printf 'inside'
  else
    printf 'other %s %s' "${status:-nothing}" "${body:0:200}"
  fi
}

# Health, JWKS, the address the service sees for this machine, and the trust model behind it:
# the caller's address is the last X-Forwarded-For entry, which holds only if the platform's
# front end appends the caller. A forged entry naming an address inside INTERNAL_NETWORKS
# must change nothing. Health is retried for $3 seconds (default smoke_budget): right after a
# first deployment the identity's roles may still be propagating and health answers 503.
smoke_check() {
  local url="$1" internal_networks_setting="$2" budget="${3:-$smoke_budget}"
  local response status body start elapsed delay=10 keys verdict seen forged forged_verdict forged_seen

  info "Smoke check of $url"
  start="$(now)"
  while :; do
    response="$(http GET "$url/api/health" 2>&1)" || true
    status="${response##*$'\n'}"
    body="${response%$'\n'*}"
    [[ "$status" == 200 ]] && break
    elapsed=$(($(now) - start))
    if ((elapsed + delay > budget)); then
      die "health did not answer 200 within $budget s (last: ${status:-no answer} ${body:0:200}).
  503 right after a first deployment usually means role assignments are still propagating:
  rerun infra/deploy.sh --smoke -g $resource_group -e $environment_name in a few minutes.
  Otherwise see docs/deployment.md (\"Smoke check\")."
    fi
    warn "health answered ${status:-nothing} (${body:0:120}); retrying in $delay s ($elapsed of $budget s used)"
    pause "$delay"
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
  printf '  %-22s %s\n' "health" "ok ($body)"

  response="$(http GET "$url/api/.well-known/jwks.json" 2>&1)" || true
  status="${response##*$'\n'}"
  body="${response%$'\n'*}"
  keys="$(printf '%s' "$body" | grep -o '"kid"' | wc -l | tr -d ' ')"
  [[ "$status" == 200 && "$keys" -gt 0 ]] ||
    die "JWKS did not answer 200 with a key (got ${status:-no answer}: ${body:0:200}); see docs/deployment.md (\"Smoke check\")"
  printf '  %-22s %s\n' "JWKS" "$keys signing key(s)"

  verdict="$(registration_verdict "$url")"
  printf '  %-22s %s\n' "INTERNAL_NETWORKS" "${internal_networks_setting:-(empty: no caller is internal)}"
  case "$verdict" in
    outside*)
      seen="${verdict#outside}"
      seen="${seen# }"
      printf '  %-22s %s\n' "this machine, as seen" "${seen:-no address} (outside INTERNAL_NETWORKS: internal registration refused from here)"
      if [[ -z "$seen" ]]; then
        warn "the service did not see an address for this machine (no X-Forwarded-For from the platform's
  front end). Internal registration cannot work like this; see docs/deployment.md (\"Smoke check\")."
      else
        warn "if $seen is one of your internal egress addresses, INTERNAL_NETWORKS is missing it, or a
  proxy in front of the app hides the caller; see docs/deployment.md (\"Smoke check\")."
      fi
      ;;
    inside)
      printf '  %-22s %s\n' "this machine, as seen" "inside INTERNAL_NETWORKS: internal registration open from here"
      ;;
    *)
      die "register/internal answered ${verdict#other }, neither 403 network_forbidden nor a
  validation error; see docs/deployment.md (\"Smoke check\")"
      ;;
  esac

  # The forged entry: an address inside INTERNAL_NETWORKS while this machine is outside them
  # (the service must still refuse, naming this machine); an address in TEST-NET-1, which no
  # one lists as internal, while this machine is inside (the service must still accept it) or
  # when no range is configured.
  if [[ "$verdict" == outside* && -n "$internal_networks_setting" ]]; then
    forged="$(address_inside "$internal_networks_setting")"
  else
    forged=192.0.2.1
  fi
  forged_verdict="$(registration_verdict "$url" "$forged")"
  # Held when the service sees what it sees without the header: another real address of this
  # machine (several egress addresses) is still not the forged one.
  forged_seen="${forged_verdict#outside}"
  forged_seen="${forged_seen# }"
  if [[ ("$verdict" == outside?* && "$forged_verdict" == outside?* && "$forged_seen" != "$forged") ||
    "$forged_verdict" == "$verdict" ]]; then
    case "$forged_verdict" in
      outside?*) seen="the real caller, $forged_seen" ;;
      outside*) seen="no address, as without it" ;;
      *) seen="the real caller, inside INTERNAL_NETWORKS" ;;
    esac
    printf '  %-22s %s\n' "forged X-Forwarded-For" "$forged ignored: the service saw $seen (trust model holds)"
    return 0
  fi
  case "$forged_verdict" in
    outside?*) forged_seen="${forged_verdict#outside }" ;;
    outside*) forged_seen="no address" ;;
    inside) forged_seen="an address inside INTERNAL_NETWORKS" ;;
    *) forged_seen="an answer of ${forged_verdict#other }" ;;
  esac
  printf '  %-22s %s\n' "forged X-Forwarded-For" "$forged taken: the service saw $forged_seen (trust model broken)"
  die "the service took a forged X-Forwarded-For entry for the caller's address: sent $forged, it saw
  $forged_seen instead of what it sees without the header. Whatever is in front of the app does not
  append the caller's address as the last entry, so anyone can claim an internal address.
  Change: until the front end appends (or overwrites) X-Forwarded-For, deploy with
  --internal-networks '' so internal registration is closed, and register devices with bulk tokens;
  a gateway in front of the app (Front Door, Application Gateway, API Management) must append the
  client's address. See docs/deployment.md (\"Smoke check\") and docs/decisions/0005-caller-address.md."
}

if [[ "$smoke_only" == true ]]; then
  function_app="$(deployment_output functionAppName)"
  function_url="$(deployment_output functionAppUrl)"
  [[ -n "$function_app" && -n "$function_url" ]] ||
    die "no deployment $deployment_name in $resource_group reports a function app (wrong -g or -e?)"
  internal_networks_setting="$(azs functionapp config appsettings list --resource-group "$resource_group" \
    --name "$function_app" --query "[?name=='INTERNAL_NETWORKS'].value | [0]" --output tsv | tr -d '\r')"
  smoke_check "$function_url" "$internal_networks_setting"
  exit 0
fi

# ---- pre-flight ----------------------------------------------------------------------------

# The Bicep CLI az compiles the templates with. The tests compile and lint with this version
# (infra/tools/bicep-cli.csproj, test/support/bicep.ts), and bicepconfig.json raises every
# linter finding to an error, so a newer Bicep with new rules could refuse to deploy.
bicep_version=0.49.2

installed_bicep_version() {
  azu bicep version 2>&1 | sed -n 's/.*Bicep CLI version \([0-9][0-9.]*\).*/\1/p' | head -n 1
}

ensure_bicep() {
  local found
  found="$(installed_bicep_version)" || true
  if [[ "$found" != "$bicep_version" ]]; then
    info "az's Bicep CLI is ${found:-not installed}; installing the pinned $bicep_version"
    azu bicep install --version "v$bicep_version" >&2 || true
    found="$(installed_bicep_version)" || true
  fi
  [[ "$found" == "$bicep_version" ]] ||
    die "az compiles the templates with Bicep CLI ${found:-(none found)}, not the pinned $bicep_version, which
  the templates are linted with (every linter finding is an error, so another version may refuse them).
  Run: az bicep install --version v$bicep_version
  If az uses the bicep on your PATH (az config get bicep.use_binary_from_path), put $bicep_version there,
  or run: az config set bicep.use_binary_from_path=false"
  info "Bicep CLI $found (pinned)"
}

lower() {
  printf '%s' "$1" | tr '[:upper:]' '[:lower:]'
}

# Whether the permission blocks on stdin (one per line: actions, a tab, notActions; each a
# space-separated list) allow $1. A pattern may hold '*' anywhere; a notAction removes what
# its own block's actions allow; names compare case-insensitively, as ARM compares them.
permissions_allow() {
  local wanted actions not_actions pattern allowed
  local -a patterns
  wanted="$(lower "$1")"
  while IFS=$'\t' read -r actions not_actions || [[ -n "$actions" ]]; do
    allowed=false
    IFS=' ' read -r -a patterns <<<"$(lower "$actions")"
    for pattern in ${patterns[@]+"${patterns[@]}"}; do
      # shellcheck disable=SC2053 # the pattern is a glob on purpose
      [[ "$wanted" == $pattern ]] && allowed=true
    done
    [[ "$allowed" == true ]] || continue
    IFS=' ' read -r -a patterns <<<"$(lower "$not_actions")"
    for pattern in ${patterns[@]+"${patterns[@]}"}; do
      # shellcheck disable=SC2053
      [[ "$wanted" == $pattern ]] && allowed=false
    done
    [[ "$allowed" == false ]] || return 0
  done
  return 1
}

# The deployer's own rights where the template writes, before anything is created: without
# them ARM fails half-way, after identity, storage, vault and monitoring exist. Read from the
# permissions API, which sums the signed-in account's role assignments at that scope (deny
# assignments and role-assignment conditions are not in it; ARM still has the last word).
check_deployer_rights() {
  local scope="$1" where="$2" blocks status=0 crypto_user=false missing=() action
  [[ -n "$subscription_id" ]] || die "az account show reported no subscription id"
  blocks="$(azu rest --method get \
    --url "$scope/providers/Microsoft.Authorization/permissions?api-version=2022-04-01" \
    --query "value[].[join(' ', actions), join(' ', notActions)]" --output tsv)" || status=$?
  [[ "$status" == 0 ]] ||
    die "could not read your permissions on $where (az rest exit $status, see above), so the pre-flight
  check of the rights the deployment needs cannot run. Check az (az account show) and rerun."
  blocks="$(printf '%s\n' "$blocks" | tr -d '\r')"
  if grep -Eiq '^[[:space:]]*param[[:space:]]+useKeyVaultCryptoUserRole[[:space:]]*=[[:space:]]*true' "$parameters_file"; then
    crypto_user=true
  fi
  for action in Microsoft.Authorization/roleDefinitions/write Microsoft.Authorization/roleAssignments/write; do
    [[ "$crypto_user" == false || "$action" != */roleDefinitions/* ]] || continue
    printf '%s\n' "$blocks" | permissions_allow "$action" || missing+=("$action")
  done
  [[ ${#missing[@]} -gt 0 ]] || return 0

  local message="the signed-in account lacks ${missing[*]} on $where.
  The template assigns roles to the app's identity (Microsoft.Authorization/roleAssignments/write)"
  if [[ "$crypto_user" == false ]]; then
    message+=" and creates the
  app's read-and-sign role on the signing key, a custom role (Microsoft.Authorization/roleDefinitions/write)"
  fi
  message+=".
  Without that, ARM would fail half-way, after identity, storage, vault and monitoring exist.
  Ask for Owner, or User Access Administrator besides Contributor, on $where"
  if [[ "$crypto_user" == false && ! " ${missing[*]} " =~ roleAssignments ]]; then
    message+=";
  or, if you cannot get roleDefinitions/write, set  param useKeyVaultCryptoUserRole = true  in your
  parameters file (-p): the app then gets the built-in Key Vault Crypto User role on the key, which
  needs only roleAssignments/write (Role Based Access Control Administrator) but allows the app more
  (docs/deployment.md, \"The app's role on the signing key\")"
  fi
  if [[ "$what_if" == true ]]; then
    warn "$message."
  else
    die "$message."
  fi
}

# ---- resource group ----------------------------------------------------------------------

# A failing az group exists is an error, never "no such group": creating a group that exists
# elsewhere, or deploying into the wrong one, must not follow from a network blip.
group_exists_status=0
group_exists="$(azs group exists --name "$resource_group" --output tsv | tr -d '\r')" || group_exists_status=$?
[[ "$group_exists_status" == 0 ]] ||
  die "could not tell whether resource group $resource_group exists (az group exists exit $group_exists_status, see above); rerun when az answers"
case "$group_exists" in
  true | false) ;;
  *) die "az group exists answered '${group_exists:0:80}', neither true nor false" ;;
esac

ensure_bicep
if [[ "$group_exists" == true ]]; then
  check_deployer_rights "/subscriptions/$subscription_id/resourceGroups/$resource_group" "resource group $resource_group"
else
  check_deployer_rights "/subscriptions/$subscription_id" "subscription $subscription_id"
fi

if [[ "$group_exists" == true ]]; then
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

# The .bicepparam names its template (using 'main.bicep'); az compiles both with its Bicep
# CLI. The file reads the environment name from CMG_ENVIRONMENT_NAME; options given here are
# inline overrides for this run.
export CMG_ENVIRONMENT_NAME="$environment_name"
params=(
  --parameters "$parameters_file"
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
  azs_within "$deploy_timeout" deployment group what-if --resource-group "$resource_group" \
    --name "$deployment_name" "${params[@]}"
  exit 0
fi

# ARM's answers while a role definition or an identity created moments ago has not replicated
# yet: the custom role and its assignment are made in one deployment, and dependsOn does not
# wait for replication.
replication_error='RoleDefinitionDoesNotExist|role definition id[^.]*not recognized|PrincipalNotFound'

# The deployment, retried with backoff (30 s doubling to 120 s) for replication_budget seconds
# on replication errors only; every rerun converges on the same resources.
deploy_infrastructure() {
  local attempt=0 delay=30 start elapsed status reason errors="$work/deploy.err"
  start="$(now)"
  while :; do
    attempt=$((attempt + 1))
    status=0
    az_bounded "$deploy_timeout" deployment group create --resource-group "$resource_group" \
      --name "$deployment_name" "${params[@]}" --output none 2>"$errors" || status=$?
    # az's warnings (a linter note, a deprecation) are shown whatever happened.
    if [[ "$status" == 0 ]]; then
      cat "$errors" >&2
      return 0
    fi
    if [[ "$status" == 124 ]]; then
      cat "$errors" >&2
      die "az deployment group create did not answer within $deploy_timeout s and was stopped. The deployment
  may still be running in Azure: az deployment group show -g $resource_group -n $deployment_name"
    fi
    if ! grep -Eiq "$replication_error" "$errors"; then
      cat "$errors" >&2
      die "the deployment failed (az exit $status, see above)"
    fi
    reason="$(grep -Eio "$replication_error" "$errors" | head -n 1)" || true
    elapsed=$(($(now) - start))
    if ((elapsed + delay > replication_budget)); then
      cat "$errors" >&2
      die "gave up deploying after $elapsed s and $attempt attempts: ARM still does not see a role definition
  or identity this deployment created ($reason). Rerun infra/deploy.sh in a few minutes (every step
  is idempotent); see docs/deployment.md (\"Deployment fails on a role\")."
    fi
    warn "deployment attempt $attempt: a new role definition or identity is still replicating ($reason); retrying in $delay s ($elapsed of $replication_budget s used)"
    pause "$delay"
    delay=$((delay * 2 > 120 ? 120 : delay * 2))
  done
}

info "Deploying infrastructure ($deployment_name); the first run takes a few minutes"
deploy_started="$(now)"
deploy_infrastructure

function_app="$(deployment_output functionAppName)"
function_url="$(deployment_output functionAppUrl)"
signing_key_id="$(deployment_output signingKeyId)"
key_vault="$(deployment_output keyVaultName)"
[[ -n "$function_app" && -n "$function_url" ]] || die "the deployment did not report the function app's name and URL"

# ARM creates a Key Vault key only when it is absent: on an existing key, this run's key
# options (type, size, rotation policy, expiry) were not applied. A key created before this
# run started (with 5 minutes for clock skew) is such a key.
key_created="$(deployment_output signingKeyCreated)"
if [[ "$key_created" =~ ^[0-9]+$ ]] && ((key_created < deploy_started - 300)); then
  key_name="${signing_key_id##*/}"
  warn "the signing key $key_name in $key_vault existed before this run ($(deployment_output signingKeyType) key,
  created $(date -u -d "@$key_created" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || date -u -r "$key_created" '+%Y-%m-%d %H:%M UTC')). ARM creates a key only when it is absent, so this run's key
  options (keyType, rsaKeySize, keyRotationTimeAfterCreate, keyExpiryTime) were not applied to it.
    new version now:     az keyvault key rotate --vault-name $key_vault --name $key_name
    rotation policy:     az keyvault key rotation-policy update --vault-name $key_vault --name $key_name --value policy.json
  Another key type or size needs a new key (keyName); see docs/deployment.md (\"Rotating the signing key\")."
fi

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

# Errors that mean "the identity's new role assignments have not reached the data plane yet":
# the platform's HTTP 400 wrapping storage's 403, and ARM's AuthorizationFailed.
propagation_error='AuthorizationFailed|AuthorizationPermissionMismatch|not authorized to perform this operation|does not have authorization to perform action|(^|[^0-9])403([^0-9]|$)'

# az's Flex Consumption publish uploads the package, then says "Waiting for sync triggers...",
# then "Checking the health of the function app", reads the host keys and polls
# /admin/host/status (azure-cli appservice custom.py, check_flex_app_after_deployment). Errors
# from that second part mean the package is deployed and the host is not ready yet — a fresh
# app whose host cannot read its secrets yet fails to list host keys (azure-functions-host
# #10620) — so they are not failures of the publish: the smoke check waits for the host.
host_check_started='Checking the health of the function app'
host_not_ready_error='Failed to fetch host key to check for function app status|Failed to fetch host url for function app|Deployment was successful but the app appears to be unhealthy'
# Set when the publish uploaded but could not show the host running: health then gets
# host_ready_budget seconds instead of smoke_budget.
host_unconfirmed=false

# One config-zip attempt under publish_timeout, with az's health poll counted: once az says it
# checks the app's health, it gets host_check_trials checks host_check_interval s apart, then
# is stopped (its loop has been seen never to count its trials). Returns az's status, 0, or
# 200 for "uploaded, the host is not ready".
publish_attempt() {
  local errors="$1" pid status=0 trials=0 stopped=false
  "$timeout_cmd" --kill-after=10 "$publish_timeout" az functionapp deployment source config-zip \
    --resource-group "$resource_group" --name "$function_app" --src "$package" --output none \
    ${sub_args[@]+"${sub_args[@]}"} 2>"$errors" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if grep -q "$host_check_started" "$errors"; then
      trials=$((trials + 1))
      if ((trials > host_check_trials)); then
        stopped=true
        kill "$pid" 2>/dev/null || true
        break
      fi
      pause "$host_check_interval"
    else
      # Uploading: a short real wait, so a quick answer is taken at once.
      sleep 0.1
    fi
  done
  wait "$pid" || status=$?
  if [[ "$stopped" == true ]]; then
    warn "az's health check of the app did not finish after $host_check_trials checks ($((host_check_trials * host_check_interval)) s); stopped it"
    return 200
  fi
  if [[ "$status" == 124 || "$status" == 137 ]]; then
    grep -q "$host_check_started" "$errors" && return 200
    return 124
  fi
  if [[ "$status" != 0 ]] && grep -Eq "$host_not_ready_error" "$errors"; then
    return 200
  fi
  return "$status"
}

# Publishing with exponential backoff (15 s doubling to 120 s) for publish_budget seconds, as
# long as the failure is a propagation error; anything else fails at once. A first deployment
# commonly needs several minutes before storage accepts the identity.
publish() {
  local attempt=0 delay=15 start elapsed status reason errors="$staging/publish.err"
  start="$(now)"
  while :; do
    attempt=$((attempt + 1))
    status=0
    publish_attempt "$errors" || status=$?
    [[ "$status" != 0 ]] || return 0
    if [[ "$status" == 200 ]]; then
      reason="$(grep -Eo "$host_not_ready_error" "$errors" | head -n 1)" || true
      warn "the package is uploaded, but az could not see the host running yet (${reason:-its health check did not end}).
  That is common right after a first deployment; the smoke check waits up to $host_ready_budget s for it."
      host_unconfirmed=true
      return 0
    fi
    if [[ "$status" == 124 ]]; then
      cat "$errors" >&2
      die "publishing did not finish within $publish_timeout s and az was stopped. The package may be
  deployed while the CLI waited for the app to answer; check with:
    infra/deploy.sh --smoke -g $resource_group -e $environment_name
  and rerun infra/deploy.sh if it is not (every step is idempotent)."
    fi
    if ! grep -Eq "$propagation_error" "$errors"; then
      cat "$errors" >&2
      die "publishing failed (az exit $status; not a permissions-propagation error, see above)"
    fi
    elapsed=$(($(now) - start))
    if ((elapsed + delay > publish_budget)); then
      cat "$errors" >&2
      die "gave up publishing after $elapsed s and $attempt attempts: the app's identity still cannot
  reach storage (the error above). New role assignments usually propagate within minutes; rerun
  infra/deploy.sh later (every step is idempotent), or check the identity's roles on the storage
  account (docs/deployment.md, \"Publishing keeps failing\")."
    fi
    reason="$(grep -Eo 'Authorization[A-Za-z]+' "$errors" | head -n 1)" || true
    warn "publish attempt $attempt: permissions still propagating (${reason:-HTTP 403}); retrying in $delay s ($elapsed of $publish_budget s used)"
    pause "$delay"
    delay=$((delay * 2 > 120 ? 120 : delay * 2))
  done
}

staging="$work"
package="$staging/package.zip"

if [[ "$infra_only" == false && -n "$package_file" ]]; then
  package="$package_file"
  info "Using the package $package"
elif [[ "$infra_only" == false ]]; then
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
fi

if [[ "$infra_only" == false ]]; then
  info "Publishing to $function_app"
  publish

  internal_networks_setting="$(azs functionapp config appsettings list --resource-group "$resource_group" \
    --name "$function_app" --query "[?name=='INTERNAL_NETWORKS'].value | [0]" --output tsv | tr -d '\r')"
  if [[ "$host_unconfirmed" == true ]]; then
    smoke_check "$function_url" "$internal_networks_setting" "$host_ready_budget"
  else
    smoke_check "$function_url" "$internal_networks_setting"
  fi
fi

# ---- console sign-in ---------------------------------------------------------------------

# The console (/api/console) signs in with an Entra app registration whose single-page-
# application redirect URIs must list the console's bridge page exactly. Adds it when the
# signed-in account may change the registration; otherwise says what to run.
console_sign_in_setup() {
  local client_id="$1" redirect_uri="$2" current updated status=0 why
  current="$(az_unscoped "$quick_timeout" ad app show --id "$client_id" --query spa.redirectUris --output json 2>"$work/ad.err")" || status=$?
  if [[ "$status" != 0 ]]; then
    why="az exit $status: $(tr '\r\n' '  ' <"$work/ad.err" | cut -c 1-160)"
    [[ "$status" != 124 ]] || why="az did not answer within $quick_timeout s"
    warn "could not read app registration $client_id ($why). Add $redirect_uri as its single-page-application
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
  if az_unscoped "$quick_timeout" rest --method PATCH --uri "https://graph.microsoft.com/v1.0/applications(appId='$client_id')" \
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
if [[ -z "$console_client_id" ]] && ! grep -Eq '^[[:space:]]*param[[:space:]]+consoleClientId[[:space:]]*=' "$parameters_file"; then
  printf '%s\n\n' "The console's Entra sign-in is not set up: pass --console-client-id <app id> (docs/deployment.md,
\"The console\"); until then the console cannot sign anyone in."
fi
if [[ -z "$admin_audience" ]]; then
  if ! grep -Eq '^[[:space:]]*param[[:space:]]+adminAudience[[:space:]]*=' "$parameters_file"; then
    warn "no admin audience is configured, so the admin API rejects every call. Set up the admin
  app registration (docs/deployment.md) and rerun with --admin-audience api://<app-id-uri>, or
  put adminAudience in $parameters_file."
  fi
fi
