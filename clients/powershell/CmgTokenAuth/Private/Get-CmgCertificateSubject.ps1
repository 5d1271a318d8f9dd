function Get-CmgCertificateSubject {
    <#
    .SYNOPSIS
    The device certificate's subject: CN=<computer name>, in characters a distinguished name
    takes without escaping. The service shows the CN as the device's name when none is sent.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    $name = (Get-CmgDeviceDescription).name -replace '[^A-Za-z0-9 ._-]', '-'
    if (-not $name) { $name = 'cmg-device' }
    'CN=' + $name
}
