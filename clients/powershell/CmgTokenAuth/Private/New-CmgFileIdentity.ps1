function New-CmgFileIdentity {
    <#
    .SYNOPSIS
    Outside Windows: the device key and its self-signed certificate from .NET's
    CertificateRequest, the key in a PKCS#8 PEM file only its owner may read (0600).
    .DESCRIPTION
    The same certificate the Windows path and the Node.js client make: valid from five minutes
    ago for ten years, key usage digital signature (critical).
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][ValidateSet('RSA', 'ECDsaP256')][string]$KeyAlgorithm)
    $directory = Initialize-CmgStateDirectory -Path (Get-CmgStateDirectory)
    $subject = Get-CmgCertificateSubject
    $sha256 = [System.Security.Cryptography.HashAlgorithmName]::SHA256
    if ($KeyAlgorithm -eq 'RSA') {
        $key = [System.Security.Cryptography.RSA]::Create(2048)
        $request = New-Object -TypeName System.Security.Cryptography.X509Certificates.CertificateRequest -ArgumentList $subject, $key, $sha256, ([System.Security.Cryptography.RSASignaturePadding]::Pkcs1)
    } else {
        $key = [System.Security.Cryptography.ECDsa]::Create([System.Security.Cryptography.ECCurve+NamedCurves]::nistP256)
        $request = New-Object -TypeName System.Security.Cryptography.X509Certificates.CertificateRequest -ArgumentList $subject, $key, $sha256
    }
    try {
        $usage = New-Object -TypeName System.Security.Cryptography.X509Certificates.X509KeyUsageExtension -ArgumentList ([System.Security.Cryptography.X509Certificates.X509KeyUsageFlags]::DigitalSignature), $true
        $request.CertificateExtensions.Add($usage)
        $now = [System.DateTimeOffset]::UtcNow
        $certificate = $request.CreateSelfSigned($now.AddMinutes(-5), $now.AddDays(3650))
        Write-Verbose ('Writing the device key to {0} (mode 0600)' -f (Join-Path $directory 'device-key.pem'))
        Write-CmgPrivateFile -Path (Join-Path $directory 'device-key.pem') -Text (ConvertTo-CmgPem -Label 'PRIVATE KEY' -Bytes $key.ExportPkcs8PrivateKey())
        Write-CmgPrivateFile -Path (Join-Path $directory 'device-cert.pem') -Text (ConvertTo-CmgPem -Label 'CERTIFICATE' -Bytes $certificate.RawData)
        $thumbprint = $certificate.Thumbprint
        $certificate.Dispose()
    } finally {
        $key.Dispose()
    }
    @{
        keyStorage   = 'File'
        thumbprint   = $thumbprint
        provider     = 'File'
        keyAlgorithm = $KeyAlgorithm
    }
}
