function Get-CmgDeviceDescription {
    <#
    .SYNOPSIS
    The device description of the fleet contract: {name, os, clientVersion}.
    .DESCRIPTION
    name: $env:COMPUTERNAME on Windows, the host name elsewhere. os: on Windows the caption and
    build of Win32_OperatingSystem ("Microsoft Windows 11 Enterprise 10.0.22631"), elsewhere
    .NET's OS description. clientVersion: this module's version. Control characters are dropped
    and lengths kept inside the contract's bounds (64, 128, 32), so the service never refuses
    a registration over what the machine calls itself.
    #>
    [CmdletBinding()]
    param()
    $name = $env:COMPUTERNAME
    if (-not $name) { $name = [System.Net.Dns]::GetHostName() }
    if (Test-CmgWindows) {
        $system = Get-CimInstance -ClassName Win32_OperatingSystem -Property Caption, Version -ErrorAction SilentlyContinue
        if ($null -ne $system) {
            $os = '{0} {1}' -f $system.Caption, $system.Version
        } else {
            $os = [System.Environment]::OSVersion.VersionString
        }
    } else {
        $os = [System.Runtime.InteropServices.RuntimeInformation]::OSDescription
    }
    $version = [string]$script:CmgModuleVersion
    @{
        name          = Limit-CmgText -Text $name -MaxLength 64
        os            = Limit-CmgText -Text $os -MaxLength 128
        clientVersion = Limit-CmgText -Text ($version -replace '[^0-9A-Za-z.+-]', '') -MaxLength 32
    }
}
