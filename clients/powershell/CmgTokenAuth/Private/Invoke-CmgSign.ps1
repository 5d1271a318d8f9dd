function Invoke-CmgSign {
    <#
    .SYNOPSIS
    Signs bytes with the device key as the identity's JWS alg requires.
    .DESCRIPTION
    RS256: RSA PKCS#1 v1.5 with SHA-256. ES256: ECDSA P-256 with SHA-256; .NET's ECDsa.SignData
    returns r || s of fixed length on .NET Framework 4.7.2 and .NET alike, which is the JWS
    form. The key object comes from the certificate store (a CNG key that never leaves it, in the
    TPM when there is one) or from the key file.
    #>
    [CmdletBinding()]
    [OutputType([byte[]])]
    param(
        [Parameter(Mandatory = $true)]$Identity,
        [Parameter(Mandatory = $true)][byte[]]$Data
    )
    $sha256 = [System.Security.Cryptography.HashAlgorithmName]::SHA256
    switch ($Identity.Alg) {
        'RS256' { return , $Identity.Key.SignData($Data, $sha256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1) }
        'ES256' { return , $Identity.Key.SignData($Data, $sha256) }
    }
    throw (New-CmgErrorRecord -Code 'unsupported_key' -Detail ("the device key's algorithm {0} is not one this module signs with (RS256, ES256)" -f $Identity.Alg))
}
