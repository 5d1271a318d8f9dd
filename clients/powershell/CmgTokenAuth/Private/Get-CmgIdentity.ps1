function Get-CmgIdentity {
    <#
    .SYNOPSIS
    The device's certificate and a handle on its private key; $null when the device has none.
    .DESCRIPTION
    From the certificate store by thumbprint (the key stays in its provider: the handle signs,
    nothing is exported) or from the key and certificate files. RSACertificateExtensions and
    ECDsaCertificateExtensions work on .NET Framework 4.7.2 and .NET alike.
    #>
    [CmdletBinding()]
    param()
    $saved = Read-CmgState -Name 'identity'
    if ($null -eq $saved) {
        return $null
    }
    $directory = Get-CmgStateDirectory
    if ($saved.keyStorage -eq 'CertStore') {
        $path = 'Cert:\{0}\My\{1}' -f $saved.storeLocation, $saved.thumbprint
        $certificate = Get-Item -LiteralPath $path -ErrorAction SilentlyContinue
        if ($null -eq $certificate) {
            throw (New-CmgErrorRecord -Code 'identity_missing' -Detail ('the device certificate {0} is no longer in the certificate store; run Reset-CmgDevice and register again' -f $path) -Category ([System.Management.Automation.ErrorCategory]::ObjectNotFound))
        }
        if ($saved.keyAlgorithm -eq 'RSA') {
            $key = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($certificate)
        } else {
            $key = [System.Security.Cryptography.X509Certificates.ECDsaCertificateExtensions]::GetECDsaPrivateKey($certificate)
        }
        if ($null -eq $key) {
            throw (New-CmgErrorRecord -Code 'identity_missing' -Detail ('the private key of {0} cannot be used by this account; run as the account that created it (SYSTEM for the machine store)' -f $path) -Category ([System.Management.Automation.ErrorCategory]::PermissionDenied))
        }
    } else {
        $keyPath = Join-Path $directory 'device-key.pem'
        $certificatePath = Join-Path $directory 'device-cert.pem'
        if (-not ((Test-Path -LiteralPath $keyPath) -and (Test-Path -LiteralPath $certificatePath))) {
            throw (New-CmgErrorRecord -Code 'identity_missing' -Detail ('the device key or certificate file is missing in {0}; run Reset-CmgDevice and register again' -f $directory) -Category ([System.Management.Automation.ErrorCategory]::ObjectNotFound))
        }
        $der = ConvertFrom-CmgPem -Label 'CERTIFICATE' -Text ([System.IO.File]::ReadAllText($certificatePath))
        $certificate = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509Certificate2 -ArgumentList (, $der)
        if ($saved.keyAlgorithm -eq 'RSA') {
            $key = [System.Security.Cryptography.RSA]::Create()
        } else {
            $key = [System.Security.Cryptography.ECDsa]::Create()
        }
        # ImportFromPem (.NET 5+): the file identity is the PowerShell 7 path, off Windows.
        $key.ImportFromPem([System.IO.File]::ReadAllText($keyPath))
    }
    $alg = 'ES256'
    if ($saved.keyAlgorithm -eq 'RSA') { $alg = 'RS256' }
    [pscustomobject]@{
        Certificate  = $certificate
        Key          = $key
        Alg          = $alg
        KeyAlgorithm = $saved.keyAlgorithm
        KeyStorage   = $saved.keyStorage
        Provider     = $saved.provider
        Thumbprint   = $certificate.Thumbprint
        Sha256       = ConvertTo-CmgBase64Url -Bytes (Get-CmgSha256 -Bytes $certificate.RawData)
    }
}
