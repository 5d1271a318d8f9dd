# One function per file (Public/ is the exported surface, listed in the manifest; Private/ the
# helpers). Dot-sourced in that order so a public function can rely on every helper.
foreach ($folder in @('Private', 'Public')) {
    $files = Get-ChildItem -Path (Join-Path $PSScriptRoot $folder) -Filter '*.ps1' -File | Sort-Object -Property Name
    foreach ($file in $files) {
        . $file.FullName
    }
}

# The version the device reports as its clientVersion: the manifest's, read once.
$script:CmgModuleVersion = (Import-PowerShellDataFile -Path (Join-Path $PSScriptRoot 'CmgTokenAuth.psd1')).ModuleVersion

# Windows PowerShell 5.1 on .NET Framework may still default to TLS 1.0; the service is HTTPS
# with TLS 1.2 or later.
if ($PSVersionTable.PSEdition -eq 'Desktop') {
    [System.Net.ServicePointManager]::SecurityProtocol = [System.Net.ServicePointManager]::SecurityProtocol -bor [System.Net.SecurityProtocolType]::Tls12
    Add-Type -AssemblyName System.Net.Http
}
