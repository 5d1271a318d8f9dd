<#
.SYNOPSIS
Runs the module's Pester suite and writes a JSON summary (what test/powershell.module.test.ts reads).
.DESCRIPTION
The integration tests need a running local host: CMG_TEST_SERVICE_URL and CMG_TEST_ADMIN_KEY
(and CMG_TEST_MANUAL_SERVICE_URL / CMG_TEST_MANUAL_ADMIN_KEY for one with manual approval);
without them they are skipped. npm test starts both hosts and sets these.
.EXAMPLE
pwsh -NoProfile -File clients/powershell/tests/Invoke-CmgTests.ps1 -PesterPath ~/.nuget/packages/pester/5.7.1/tools/Pester.psd1
#>
param(
    [Parameter(Mandatory = $true)][string]$PesterPath,
    [string]$SummaryPath,
    [string[]]$Path = @($PSScriptRoot)
)
$ErrorActionPreference = 'Stop'
Import-Module $PesterPath -Force
$configuration = New-PesterConfiguration
# -Path a,b from pwsh -File arrives as one string.
$configuration.Run.Path = @($Path | ForEach-Object { $_ -split ',' } | Where-Object { $_ })
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = 'Normal'
$result = Invoke-Pester -Configuration $configuration
if ($SummaryPath) {
    $failures = @()
    foreach ($test in $result.Failed) {
        $message = ''
        if ($test.ErrorRecord.Count -gt 0) { $message = [string]$test.ErrorRecord[0].DisplayErrorMessage }
        $failures += [pscustomobject]@{ name = $test.ExpandedPath; message = $message }
    }
    foreach ($container in $result.Containers) {
        if ($container.Result -eq 'Failed' -and $container.ErrorRecord.Count -gt 0) {
            $failures += [pscustomobject]@{ name = [string]$container.Item; message = [string]$container.ErrorRecord[0].DisplayErrorMessage }
        }
    }
    [pscustomobject]@{
        passed          = $result.PassedCount
        failed          = $result.FailedCount
        skipped         = $result.SkippedCount
        notRun          = $result.NotRunCount
        total           = $result.TotalCount
        failedBlocks    = $result.FailedBlocksCount
        failedContainers = $result.FailedContainersCount
        durationSeconds = [System.Math]::Round($result.Duration.TotalSeconds, 2)
        files           = @($result.Containers | ForEach-Object { [pscustomobject]@{ file = (Split-Path -Leaf ([string]$_.Item)); passed = $_.PassedCount; failed = $_.FailedCount; seconds = [System.Math]::Round($_.Duration.TotalSeconds, 2) } })
        failures        = $failures
    } | ConvertTo-Json -Depth 4 | Set-Content -Path $SummaryPath -Encoding utf8
}
if ($result.FailedCount -gt 0 -or $result.FailedBlocksCount -gt 0 -or $result.FailedContainersCount -gt 0) { exit 1 }
exit 0
