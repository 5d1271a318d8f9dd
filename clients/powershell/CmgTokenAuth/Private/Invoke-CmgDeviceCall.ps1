function Invoke-CmgDeviceCall {
    <#
    .SYNOPSIS
    One device request to the service: a fresh proof (and the device description where the
    route takes one) in the body, the bearer token if any; a problem answer becomes the
    module's terminating error with the service's code and detail.
    .DESCRIPTION
    Returns StatusCode, RetryAfterSeconds and the parsed Answer for a 2xx. A 429 is thrown as
    'rate_limited' with RetryAfterSeconds; callers that may wait catch it.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$ServiceUrl,
        [Parameter(Mandatory = $true)][ValidateSet('register', 'register/internal', 'renew', 'authenticate')][string]$Route,
        [Parameter(Mandatory = $true)]$Identity,
        [string]$BearerToken,
        [switch]$WithDeviceDescription
    )
    $url = $ServiceUrl + '/api/' + $Route
    $proofParameters = @{ Identity = $Identity; Method = 'POST'; Url = $url }
    $sendParameters = @{ Method = 'POST'; Uri = $url }
    if ($PSBoundParameters.ContainsKey('BearerToken')) {
        $proofParameters.BearerToken = $BearerToken
        $sendParameters.BearerToken = $BearerToken
    }
    $body = '{"proof":' + (ConvertTo-CmgJsonString (New-CmgProof @proofParameters))
    if ($WithDeviceDescription) {
        $description = Get-CmgDeviceDescription
        $fields = New-Object -TypeName System.Collections.Generic.List[string]
        foreach ($field in @('name', 'os', 'clientVersion')) {
            if ($description[$field]) {
                $fields.Add((ConvertTo-CmgJsonString $field) + ':' + (ConvertTo-CmgJsonString $description[$field]))
            }
        }
        $body += ',"device":{' + ($fields -join ',') + '}'
    }
    $body += '}'
    Write-Verbose ('POST {0}' -f $url)
    $response = Send-CmgHttpRequest @sendParameters -Body $body
    Write-Verbose ('{0} answered {1}' -f $url, $response.StatusCode)
    if ($response.StatusCode -ge 200 -and $response.StatusCode -lt 300) {
        try {
            $answer = $response.Body | ConvertFrom-Json -ErrorAction Stop
        } catch {
            throw (New-CmgErrorRecord -Code 'unexpected_response' -Detail ('{0} answered {1} with a body that is not JSON' -f $url, $response.StatusCode) -Status $response.StatusCode)
        }
        return [pscustomobject]@{ StatusCode = $response.StatusCode; RetryAfterSeconds = $response.RetryAfterSeconds; Answer = $answer }
    }
    $code = 'http_' + $response.StatusCode
    $detail = ('{0} answered {1} without a problem document' -f $url, $response.StatusCode)
    if ($response.ContentType -match 'json') {
        try {
            $problem = $response.Body | ConvertFrom-Json -ErrorAction Stop
            if ($problem.code) { $code = [string]$problem.code }
            if ($problem.detail) { $detail = [string]$problem.detail }
        } catch {
            Write-Verbose 'The error body is not JSON'
        }
    }
    throw (New-CmgErrorRecord -Code $code -Detail $detail -Status $response.StatusCode -RetryAfterSeconds $response.RetryAfterSeconds)
}
