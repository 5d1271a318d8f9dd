function New-CmgProof {
    <#
    .SYNOPSIS
    Signs the proof of possession for one request (docs/protocol.md section 3).
    .DESCRIPTION
    The same compact JWS the Node.js client (cli/device/identity.ts, signProof) makes, byte for
    byte: header {"alg","typ":"device-proof+jwt","x5c":[<base64 DER>]} and claims
    {"htm","htu","iat","jti","ath"?} in that order, compact JSON, base64url without padding.
    The jti is a fresh GUID (36 characters, single use); ath is the base64url SHA-256 of the
    bearer token's ASCII bytes, present whenever a bearer token is sent.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true)]$Identity,
        [Parameter(Mandatory = $true)][string]$Method,
        [Parameter(Mandatory = $true)][string]$Url,
        [string]$BearerToken,
        # For tests only: a fixed jti and iat, so the bytes can be compared with another signer's.
        [string]$Jti,
        [Nullable[long]]$IssuedAt = $null
    )
    if (-not $Jti) { $Jti = [guid]::NewGuid().ToString() }
    if ($null -eq $IssuedAt) { $IssuedAt = [System.DateTimeOffset]::UtcNow.ToUnixTimeSeconds() }

    $x5c = [System.Convert]::ToBase64String($Identity.Certificate.RawData)
    $header = '{"alg":' + (ConvertTo-CmgJsonString $Identity.Alg) + ',"typ":"device-proof+jwt","x5c":[' + (ConvertTo-CmgJsonString $x5c) + ']}'
    $claims = '{"htm":' + (ConvertTo-CmgJsonString $Method.ToUpperInvariant()) +
        ',"htu":' + (ConvertTo-CmgJsonString $Url) +
        ',"iat":' + $IssuedAt.ToString([System.Globalization.CultureInfo]::InvariantCulture) +
        ',"jti":' + (ConvertTo-CmgJsonString $Jti)
    if ($PSBoundParameters.ContainsKey('BearerToken')) {
        $tokenHash = Get-CmgSha256 -Bytes ([System.Text.Encoding]::ASCII.GetBytes($BearerToken))
        $claims += ',"ath":' + (ConvertTo-CmgJsonString (ConvertTo-CmgBase64Url -Bytes $tokenHash))
    }
    $claims += '}'

    $signingInput = (ConvertTo-CmgBase64Url -Text $header) + '.' + (ConvertTo-CmgBase64Url -Text $claims)
    $signature = Invoke-CmgSign -Identity $Identity -Data ([System.Text.Encoding]::ASCII.GetBytes($signingInput))
    $signingInput + '.' + (ConvertTo-CmgBase64Url -Bytes $signature)
}
