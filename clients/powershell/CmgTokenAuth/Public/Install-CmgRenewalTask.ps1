function Install-CmgRenewalTask {
    <#
    .SYNOPSIS
    Registers the scheduled task that keeps the device token renewed (Windows, elevated).
    .DESCRIPTION
    A task \CmgTokenAuth\<TaskName> running as SYSTEM at start-up and daily (at -DailyAt plus a
    random delay of up to -RandomDelayMinutes, so a fleet does not renew all at once), which runs
    Windows PowerShell:
      powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command
        "Import-Module '<this module's manifest>' -ErrorAction Stop; Update-CmgDeviceToken"
    Update-CmgDeviceToken asks the service only when renewal is due. The task is replaced if it
    exists. -WhatIf prints what would be registered and registers nothing.
    .PARAMETER TaskName
    The task's name under \CmgTokenAuth\.
    .PARAMETER DailyAt
    The time of the daily run (local time, HH:mm).
    .PARAMETER RandomDelayMinutes
    The random delay added to the daily run (0 to 720 minutes).
    .EXAMPLE
    Install-CmgRenewalTask -WhatIf

    Shows the task that would be registered.
    .EXAMPLE
    Install-CmgRenewalTask -DailyAt '12:30' -RandomDelayMinutes 240

    Renews around midday, spread over four hours.
    #>
    [CmdletBinding(SupportsShouldProcess = $true)]
    param(
        [ValidateNotNullOrEmpty()][string]$TaskName = 'Token renewal',
        [ValidatePattern('^([01][0-9]|2[0-3]):[0-5][0-9]$')][string]$DailyAt = '03:00',
        [ValidateRange(0, 720)][int]$RandomDelayMinutes = 120
    )
    try {
        if (-not (Test-CmgWindows)) {
            throw (New-CmgErrorRecord -Code 'not_windows' -Detail 'scheduled tasks are a Windows feature; elsewhere run Update-CmgDeviceToken from cron or a systemd timer' -Category ([System.Management.Automation.ErrorCategory]::NotImplemented))
        }
        $definition = Get-CmgRenewalTaskDefinition -TaskName $TaskName -DailyAt $DailyAt -RandomDelayMinutes $RandomDelayMinutes
        $action = New-ScheduledTaskAction -Execute $definition.Execute -Argument $definition.Argument
        $triggers = @(
            (New-ScheduledTaskTrigger -AtStartup),
            (New-ScheduledTaskTrigger -Daily -At $DailyAt -RandomDelay (New-TimeSpan -Minutes $RandomDelayMinutes))
        )
        $principal = New-ScheduledTaskPrincipal -UserId 'S-1-5-18' -LogonType ServiceAccount -RunLevel Highest
        $settings = New-ScheduledTaskSettingsSet -StartWhenAvailable -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries -ExecutionTimeLimit (New-TimeSpan -Hours 1) -MultipleInstances IgnoreNew
        $what = 'Register a scheduled task running as SYSTEM at start-up and daily at {0} (random delay up to {1} min): {2} {3}' -f $DailyAt, $RandomDelayMinutes, $definition.Execute, $definition.Argument
        if (-not $PSCmdlet.ShouldProcess(($definition.TaskPath + $TaskName), $what)) {
            return
        }
        Register-ScheduledTask -TaskName $TaskName -TaskPath $definition.TaskPath -Action $action -Trigger $triggers -Principal $principal -Settings $settings -Description $definition.Description -Force
    } catch {
        $PSCmdlet.ThrowTerminatingError((ConvertTo-CmgErrorRecord -ErrorRecord $_))
    }
}
