function Get-CmgRenewalTaskDefinition {
    <#
    .SYNOPSIS
    What the renewal task runs: Windows PowerShell importing this module by its path (so it
    works wherever the module was copied) and calling Update-CmgDeviceToken.
    #>
    [CmdletBinding()]
    param(
        [Parameter(Mandatory = $true)][string]$TaskName,
        [Parameter(Mandatory = $true)][string]$DailyAt,
        [Parameter(Mandatory = $true)][int]$RandomDelayMinutes
    )
    $manifest = Join-Path (Split-Path -Parent $PSScriptRoot) 'CmgTokenAuth.psd1'
    $systemRoot = $env:SystemRoot
    if (-not $systemRoot) { $systemRoot = 'C:\Windows' }
    $command = "Import-Module '{0}' -ErrorAction Stop; Update-CmgDeviceToken" -f $manifest.Replace("'", "''")
    @{
        TaskPath    = '\CmgTokenAuth\'
        Execute     = $systemRoot.TrimEnd('\') + '\System32\WindowsPowerShell\v1.0\powershell.exe'
        Argument    = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "{0}"' -f $command
        Description = 'Renews the cmg-token-auth device token when it is due (CmgTokenAuth module).'
    }
}
