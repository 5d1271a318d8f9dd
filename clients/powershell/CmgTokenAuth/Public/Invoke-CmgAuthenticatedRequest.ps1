function Invoke-CmgAuthenticatedRequest {
    <#
    .SYNOPSIS
    Presents the device token with a fresh proof: to the service, to a gateway, or as headers.
    .DESCRIPTION
    Every call signs a new proof with the device key (single use: a second request with the
    same proof is refused proof_replayed), bound to POST <ServiceUrl>/api/authenticate and to the
    device token (ath).

    Without -Uri it asks the service itself (POST /api/authenticate) and outputs what the
    service says of the device: DeviceId, Registration, ExpiresAt, RenewAfter. A revoked device
    gets the error 'CmgTokenAuth.device_revoked'.

    With -Uri it sends your request to a gateway with two headers added:
      Authorization: Bearer <device token>
      Cmg-Device-Proof: <proof>
    The gateway passes both on to POST <ServiceUrl>/api/authenticate (Authorization as it came,
    the body {"proof": "<Cmg-Device-Proof>"}), or checks them offline against the published
    keys (docs/powershell.md, "At the gateway").

    -HeadersOnly outputs those two headers as a hashtable, for a client of your own. It holds
    the device token: keep it out of logs.
    .PARAMETER Uri
    The gateway's URL to call.
    .PARAMETER Method
    The HTTP method of the gateway call (GET by default).
    .PARAMETER Body
    The body of the gateway call.
    .PARAMETER ContentType
    The content type of -Body.
    .PARAMETER HeadersOnly
    Output the Authorization and Cmg-Device-Proof headers instead of sending anything.
    .EXAMPLE
    Invoke-CmgAuthenticatedRequest

    Asks the service whether the device's token and key are good; outputs DeviceId and expiry.
    .EXAMPLE
    Invoke-CmgAuthenticatedRequest -Uri https://gateway.contoso.com/inventory -Method Post -Body $json -ContentType 'application/json'

    Sends an inventory report to a gateway that checks the device with the service.
    .EXAMPLE
    $headers = Invoke-CmgAuthenticatedRequest -HeadersOnly; Invoke-RestMethod -Uri $gatewayUrl -Headers $headers

    The headers for a request made some other way; make new ones for every request.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Service')]
    param(
        [Parameter(Mandatory = $true, ParameterSetName = 'Gateway')][System.Uri]$Uri,
        [Parameter(ParameterSetName = 'Gateway')][string]$Method = 'GET',
        [Parameter(ParameterSetName = 'Gateway')]$Body,
        [Parameter(ParameterSetName = 'Gateway')][string]$ContentType,
        [Parameter(Mandatory = $true, ParameterSetName = 'Headers')][switch]$HeadersOnly
    )
    try {
        $registered = Get-CmgRegisteredDevice
        $tokenState = $registered.TokenState
        $identity = $registered.Identity
        $url = Resolve-CmgServiceUrl -ServiceUrl $tokenState.serviceUrl -AllowHttp:([bool]$tokenState.allowHttp)
        if ($PSCmdlet.ParameterSetName -eq 'Service') {
            $answer = (Invoke-CmgDeviceCall -ServiceUrl $url -Route 'authenticate' -Identity $identity -BearerToken $tokenState.token).Answer
            return [pscustomobject]@{
                PSTypeName   = 'CmgTokenAuth.Authentication'
                DeviceId     = $answer.deviceId
                Registration = $answer.registration
                ExpiresAt    = (ConvertTo-CmgDateTimeOffset $answer.expiresAt).UtcDateTime
                RenewAfter   = (ConvertTo-CmgDateTimeOffset $answer.renewAfter).UtcDateTime
            }
        }
        $headers = @{
            'Authorization'    = 'Bearer ' + $tokenState.token
            'Cmg-Device-Proof' = New-CmgProof -Identity $identity -Method 'POST' -Url ($url + '/api/authenticate') -BearerToken $tokenState.token
        }
        if ($HeadersOnly) {
            return $headers
        }
        $request = @{ Uri = $Uri; Method = $Method; Headers = $headers; UseBasicParsing = $true; ErrorAction = 'Stop' }
        if ($PSBoundParameters.ContainsKey('Body')) { $request.Body = $Body }
        if ($ContentType) { $request.ContentType = $ContentType }
        Write-Verbose ('{0} {1} with the device token and a fresh proof' -f $Method.ToUpperInvariant(), $Uri)
        try {
            Invoke-WebRequest @request
        } catch {
            throw (New-CmgErrorRecord -Code 'gateway_request_failed' -Detail ('{0} {1} failed: {2}' -f $Method.ToUpperInvariant(), $Uri, $_.Exception.Message) -Category ([System.Management.Automation.ErrorCategory]::ConnectionError) -InnerException $_.Exception)
        }
    } catch {
        $PSCmdlet.ThrowTerminatingError((ConvertTo-CmgErrorRecord -ErrorRecord $_))
    }
}
