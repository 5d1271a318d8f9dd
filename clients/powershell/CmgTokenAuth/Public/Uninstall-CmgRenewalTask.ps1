function Uninstall-CmgRenewalTask {
    <#
    .SYNOPSIS
    Removes the renewal task Install-CmgRenewalTask registered (Windows, elevated).
    .DESCRIPTION
    Does nothing when the task is not there. -WhatIf says what would be removed.
    .PARAMETER TaskName
    The task's name under \CmgTokenAuth\.
    .EXAMPLE
    Uninstall-CmgRenewalTask -WhatIf

    Shows the task that would be removed.
    .EXAMPLE
    Uninstall-CmgRenewalTask; Reset-CmgDevice -Confirm:$false

    Takes the module off a machine: no more renewals, and the key and registration are gone.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([ValidateNotNullOrEmpty()][string]$TaskName = 'Token renewal')
    try {
        if (-not (Test-CmgWindows)) {
            throw (New-CmgErrorRecord -Code 'not_windows' -Detail 'scheduled tasks are a Windows feature' -Category ([System.Management.Automation.ErrorCategory]::NotImplemented))
        }
        $taskPath = '\CmgTokenAuth\'
        $task = Get-ScheduledTask -TaskName $TaskName -TaskPath $taskPath -ErrorAction SilentlyContinue
        if ($null -eq $task) {
            Write-Verbose ('No scheduled task {0}{1}' -f $taskPath, $TaskName)
            return
        }
        if ($PSCmdlet.ShouldProcess(($taskPath + $TaskName), 'Unregister the scheduled task')) {
            Unregister-ScheduledTask -TaskName $TaskName -TaskPath $taskPath -Confirm:$false
        }
    } catch {
        $PSCmdlet.ThrowTerminatingError((ConvertTo-CmgErrorRecord -ErrorRecord $_))
    }
}
