function Resolve-CmgServiceUrl {
    <#
    .SYNOPSIS
    Checks the service URL and returns it without a trailing slash.
    .DESCRIPTION
    http or https, no query or fragment, without the /api the module adds (as the CLIs take
    it). Plain http is refused unless the host is loopback or -AllowHttp is given: bulk and
    device tokens would travel in clear, and anyone on the path could register devices with a
    bulk token or act as the device until its token expires.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)][string]$ServiceUrl,
        [switch]$AllowHttp
    )
    $uri = $null
    if (-not [System.Uri]::TryCreate($ServiceUrl, [System.UriKind]::Absolute, [ref]$uri) -or ($uri.Scheme -ne 'http' -and $uri.Scheme -ne 'https')) {
        throw (New-CmgErrorRecord -Code 'invalid_service_url' -Detail ('-ServiceUrl must be an absolute http:// or https:// URL, such as https://cmg-token-auth.azurewebsites.net (got "{0}")' -f $ServiceUrl))
    }
    if ($uri.Query -or $uri.Fragment -or $uri.UserInfo) {
        throw (New-CmgErrorRecord -Code 'invalid_service_url' -Detail ('-ServiceUrl must not carry a query, fragment or user name (got "{0}")' -f $ServiceUrl))
    }
    $path = $uri.AbsolutePath.TrimEnd('/')
    if ($path -match '(^|/)api$') {
        throw (New-CmgErrorRecord -Code 'invalid_service_url' -Detail ('-ServiceUrl is the address without /api, which the module adds (got "{0}"; use "{1}")' -f $ServiceUrl, ($uri.GetLeftPart([System.UriPartial]::Authority) + $path.Substring(0, $path.Length - 3)).TrimEnd('/')))
    }
    if ($uri.Scheme -eq 'http' -and -not $uri.IsLoopback -and -not $AllowHttp) {
        throw (New-CmgErrorRecord -Code 'insecure_url' -Detail ('refusing http:// to {0}: the registration and device tokens would travel in clear; use https://, or -AllowHttp on a network you trust' -f $uri.Host))
    }
    ($uri.GetLeftPart([System.UriPartial]::Authority) + $path)
}
