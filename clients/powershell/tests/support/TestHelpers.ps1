# Shared by the test files: decoding a compact JWS and checking its signature with .NET, the way
# an independent verifier would (not with the module's own code).
function ConvertFrom-TestBase64Url {
    param([Parameter(Mandatory = $true)][string]$Text)
    $padded = $Text.Replace('-', '+').Replace('_', '/')
    switch ($padded.Length % 4) { 2 { $padded += '==' } 3 { $padded += '=' } }
    , [System.Convert]::FromBase64String($padded)
}

function Split-TestJws {
    param([Parameter(Mandatory = $true)][string]$Jws)
    $parts = $Jws.Split('.')
    [pscustomobject]@{
        HeaderJson   = [System.Text.Encoding]::UTF8.GetString((ConvertFrom-TestBase64Url $parts[0]))
        PayloadJson  = [System.Text.Encoding]::UTF8.GetString((ConvertFrom-TestBase64Url $parts[1]))
        Header       = [System.Text.Encoding]::UTF8.GetString((ConvertFrom-TestBase64Url $parts[0])) | ConvertFrom-Json
        Payload      = [System.Text.Encoding]::UTF8.GetString((ConvertFrom-TestBase64Url $parts[1])) | ConvertFrom-Json
        SigningInput = [System.Text.Encoding]::ASCII.GetBytes($parts[0] + '.' + $parts[1])
        Signature    = ConvertFrom-TestBase64Url $parts[2]
    }
}

function Test-TestJwsSignature {
    # Verifies a proof with the public key of the certificate in its own x5c.
    param([Parameter(Mandatory = $true)][string]$Compact)
    $jws = Split-TestJws $Compact
    $certificate = [System.Security.Cryptography.X509Certificates.X509Certificate2]::new([System.Convert]::FromBase64String($jws.Header.x5c[0]))
    $sha256 = [System.Security.Cryptography.HashAlgorithmName]::SHA256
    switch ($jws.Header.alg) {
        'RS256' { return [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPublicKey($certificate).VerifyData($jws.SigningInput, $jws.Signature, $sha256, [System.Security.Cryptography.RSASignaturePadding]::Pkcs1) }
        'ES256' { return [System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPublicKey($certificate).VerifyData($jws.SigningInput, $jws.Signature, $sha256) }
    }
    $false
}

function Get-TestSha256Base64Url {
    param([Parameter(Mandatory = $true)][byte[]]$Bytes)
    $hash = [System.Security.Cryptography.SHA256]::HashData($Bytes)
    [System.Convert]::ToBase64String($hash).TrimEnd('=').Replace('+', '-').Replace('/', '_')
}
