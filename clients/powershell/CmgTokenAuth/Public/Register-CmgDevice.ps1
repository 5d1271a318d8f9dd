function Register-CmgDevice {
    <#
    .SYNOPSIS
    Registers the device with cmg-token-auth and keeps the device token it issues.
    .DESCRIPTION
    With -RegistrationToken (a bulk registration token an administrator made with
    cmg-admin tokens new or the console) the device registers over the internet
    (POST /api/register); with -Internal it registers from the organisation's network
    (POST /api/register/internal). Either way the request carries a fresh proof signed by the
    device key, and the device's description: its computer name, OS caption and build, and
    this module's version. The device key is made first if there is none (see
    New-CmgDeviceIdentity).

    When an administrator must approve internal registrations the service answers "pending":
    without -Wait the command returns Status Pending (run it again later); with -Wait it asks
    again as often as the service's Retry-After says, until approved or -TimeoutSeconds pass.
    A "rate_limited" answer (too many tokens for this device in the service's window) is
    waited out the same way under -Wait, and is an error otherwise.

    A device already registered with this service is left as it is unless -Force is given
    (registration is idempotent per certificate: the device id stays the same).

    Plain http:// is refused except to loopback, because the tokens would travel in clear;
    -AllowHttp overrides that on a network you trust.
    .PARAMETER ServiceUrl
    The service's address without /api, for example https://cmg-token-auth.azurewebsites.net.
    .PARAMETER RegistrationToken
    The bulk registration token. It is never written to the output, the verbose stream or the
    state folder.
    .PARAMETER Internal
    Register from the internal network, without a bulk token.
    .PARAMETER Wait
    Wait through "pending" and "rate_limited" answers, as long as each Retry-After says.
    .PARAMETER TimeoutSeconds
    How long -Wait waits in all (86400, one day, by default).
    .PARAMETER KeyAlgorithm
    The key type when a key has to be made: RSA (default) or ECDsaP256.
    .PARAMETER AllowHttp
    Allow http:// to a host other than loopback.
    .PARAMETER Force
    Register again even when the device already holds a token from this service.
    .EXAMPLE
    Register-CmgDevice -ServiceUrl https://cmg-token-auth.azurewebsites.net -RegistrationToken $bulkToken

    Registers an internet-based device with a bulk registration token.
    .EXAMPLE
    Register-CmgDevice -ServiceUrl https://cmg-token-auth.azurewebsites.net -Internal -Wait -TimeoutSeconds 3600

    Registers from the internal network and waits up to an hour for an administrator's approval.
    .OUTPUTS
    CmgTokenAuth.DeviceStatus
    #>
    [CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Bulk')]
    [OutputType('CmgTokenAuth.DeviceStatus')]
    param(
        [Parameter(Mandatory = $true, Position = 0)][string]$ServiceUrl,
        [Parameter(Mandatory = $true, ParameterSetName = 'Bulk')][AllowEmptyString()][string]$RegistrationToken,
        [Parameter(Mandatory = $true, ParameterSetName = 'Internal')][switch]$Internal,
        [switch]$Wait,
        [ValidateRange(1, 604800)][int]$TimeoutSeconds = 86400,
        [ValidateSet('RSA', 'ECDsaP256')][string]$KeyAlgorithm = 'RSA',
        [switch]$AllowHttp,
        [switch]$Force
    )
    try {
        $url = Resolve-CmgServiceUrl -ServiceUrl $ServiceUrl -AllowHttp:$AllowHttp
        if ($Internal) {
            $route = 'register/internal'
            $registration = 'internal'
        } else {
            Assert-CmgRegistrationToken -Token $RegistrationToken
            $route = 'register'
            $registration = 'bulk'
        }
        $tokenState = Read-CmgState -Name 'token'
        if ($null -ne $tokenState -and $tokenState.status -eq 'active' -and $tokenState.serviceUrl -eq $url -and -not $Force) {
            $current = Get-CmgStatusObject -Identity (Get-CmgIdentity) -TokenState $tokenState
            if ($current.Status -ne 'Expired') {
                Write-Verbose ('Already registered with {0} as {1}; -Force registers again' -f $url, $tokenState.deviceId)
                return $current
            }
        }
        if (-not $PSCmdlet.ShouldProcess($url, ('Register this device ({0})' -f $registration))) {
            return
        }
        $identity = Get-CmgIdentity
        if ($null -eq $identity) {
            Write-Verbose ('Making a {0} device key in {1}' -f $KeyAlgorithm, (Get-CmgIdentityTarget))
            New-CmgIdentity -KeyAlgorithm $KeyAlgorithm
            $identity = Get-CmgIdentity
        }
        $deadline = [System.DateTimeOffset]::UtcNow.AddSeconds($TimeoutSeconds)
        $callParameters = @{ ServiceUrl = $url; Route = $route; Identity = $identity; WithDeviceDescription = $true }
        if (-not $Internal) { $callParameters.BearerToken = $RegistrationToken }
        while ($true) {
            try {
                $result = Invoke-CmgDeviceCall @callParameters
            } catch {
                $record = $_
                if ($Wait -and $record.FullyQualifiedErrorId -eq 'CmgTokenAuth.rate_limited' -and $null -ne $record.TargetObject.RetryAfterSeconds) {
                    Wait-CmgRetry -Seconds $record.TargetObject.RetryAfterSeconds -Deadline $deadline -Reason 'The service is pacing token issues for this device'
                    continue
                }
                throw
            }
            if ($result.StatusCode -ne 202) {
                Save-CmgTokenAnswer -Answer $result.Answer -ServiceUrl $url -Registration $registration -AllowHttp ([bool]$AllowHttp)
                Write-Verbose ('Registered with {0} as {1}' -f $url, $result.Answer.deviceId)
                return (Get-CmgStatusObject -Identity $identity -TokenState (Read-CmgState -Name 'token'))
            }
            Save-CmgState -Name 'token' -State ([ordered]@{
                    serviceUrl   = $url
                    allowHttp    = [bool]$AllowHttp
                    status       = 'pending'
                    deviceId     = [string]$result.Answer.deviceId
                    registration = $registration
                })
            if (-not $Wait) {
                Write-Verbose ('Registration of {0} waits for an administrator''s approval; run Register-CmgDevice again (or with -Wait)' -f $result.Answer.deviceId)
                return (Get-CmgStatusObject -Identity $identity -TokenState (Read-CmgState -Name 'token'))
            }
            $seconds = 60
            if ($null -ne $result.RetryAfterSeconds) { $seconds = $result.RetryAfterSeconds }
            Wait-CmgRetry -Seconds $seconds -Deadline $deadline -Reason ('Registration of {0} waits for an administrator''s approval' -f $result.Answer.deviceId)
        }
    } catch {
        $PSCmdlet.ThrowTerminatingError((ConvertTo-CmgErrorRecord -ErrorRecord $_))
    }
}
