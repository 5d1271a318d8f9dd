function Send-CmgHttpRequest {
    <#
    .SYNOPSIS
    One HTTP request, whatever its status: status code, Retry-After in seconds, content type
    and body text.
    .DESCRIPTION
    HttpClient rather than Invoke-RestMethod: Windows PowerShell 5.1's cmdlets throw on a 4xx
    and hide the problem body and headers; HttpClient behaves the same on .NET Framework and
    .NET. The body goes with a Content-Length (the Functions host drops chunked bodies).
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$Method,
        [Parameter(Mandatory = $true)][string]$Uri,
        [string]$Body,
        [string]$BearerToken
    )
    if ($null -eq $script:CmgHttpClient) {
        $handler = New-Object -TypeName System.Net.Http.HttpClientHandler
        $handler.AllowAutoRedirect = $false
        $script:CmgHttpClient = New-Object -TypeName System.Net.Http.HttpClient -ArgumentList $handler
        $script:CmgHttpClient.Timeout = [System.TimeSpan]::FromSeconds(60)
    }
    $request = New-Object -TypeName System.Net.Http.HttpRequestMessage -ArgumentList (New-Object -TypeName System.Net.Http.HttpMethod -ArgumentList $Method.ToUpperInvariant()), $Uri
    try {
        if ($PSBoundParameters.ContainsKey('BearerToken')) {
            $request.Headers.Authorization = New-Object -TypeName System.Net.Http.Headers.AuthenticationHeaderValue -ArgumentList 'Bearer', $BearerToken
        }
        if ($PSBoundParameters.ContainsKey('Body')) {
            $content = New-Object -TypeName System.Net.Http.ByteArrayContent -ArgumentList (, [System.Text.Encoding]::UTF8.GetBytes($Body))
            $content.Headers.ContentType = New-Object -TypeName System.Net.Http.Headers.MediaTypeHeaderValue -ArgumentList 'application/json'
            $request.Content = $content
        }
        $request.Headers.UserAgent.ParseAdd(('CmgTokenAuth/{0}' -f $script:CmgModuleVersion))
        try {
            $response = $script:CmgHttpClient.SendAsync($request).GetAwaiter().GetResult()
        } catch {
            $reason = $_.Exception
            while ($null -ne $reason.InnerException) { $reason = $reason.InnerException }
            throw (New-CmgErrorRecord -Code 'service_unreachable' -Detail ('the service is not reachable at {0}: {1}' -f $Uri, $reason.Message) -Category ([System.Management.Automation.ErrorCategory]::ConnectionError) -InnerException $_.Exception)
        }
        try {
            $text = $response.Content.ReadAsStringAsync().GetAwaiter().GetResult()
            $retryAfter = $null
            $condition = $response.Headers.RetryAfter
            if ($null -ne $condition) {
                if ($null -ne $condition.Delta) {
                    $retryAfter = [int][System.Math]::Ceiling($condition.Delta.TotalSeconds)
                } elseif ($null -ne $condition.Date) {
                    $retryAfter = [int][System.Math]::Max(0, [System.Math]::Ceiling(($condition.Date - [System.DateTimeOffset]::UtcNow).TotalSeconds))
                }
            }
            $contentType = ''
            if ($null -ne $response.Content.Headers.ContentType) {
                $contentType = $response.Content.Headers.ContentType.MediaType
            }
            [pscustomobject]@{
                StatusCode        = [int]$response.StatusCode
                RetryAfterSeconds = $retryAfter
                ContentType       = $contentType
                Body              = $text
            }
        } finally {
            $response.Dispose()
        }
    } finally {
        $request.Dispose()
    }
}
