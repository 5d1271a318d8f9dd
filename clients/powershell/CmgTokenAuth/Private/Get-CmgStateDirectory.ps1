function Get-CmgStateDirectory {
    <#
    .SYNOPSIS
    Where the device keeps its state (token, expiry, the certificate's thumbprint).
    .DESCRIPTION
    CMG_TOKEN_AUTH_STATE_DIR when set (tests, or a second identity on one machine). On Windows
    %ProgramData%\CmgTokenAuth when elevated or SYSTEM (the machine's identity), else
    %LOCALAPPDATA%\CmgTokenAuth (a user's own, which an unelevated user could not protect in
    ProgramData). Elsewhere $XDG_CONFIG_HOME/cmg-token-auth, by default ~/.config/cmg-token-auth.
    #>
    [CmdletBinding()]
    [OutputType([string])]
    param()
    if ($env:CMG_TOKEN_AUTH_STATE_DIR) {
        return $env:CMG_TOKEN_AUTH_STATE_DIR
    }
    if (Test-CmgWindows) {
        if (Test-CmgElevated) {
            return (Join-Path $env:ProgramData 'CmgTokenAuth')
        }
        return (Join-Path $env:LOCALAPPDATA 'CmgTokenAuth')
    }
    $configHome = $env:XDG_CONFIG_HOME
    if (-not $configHome) {
        $configHome = Join-Path $HOME '.config'
    }
    Join-Path $configHome 'cmg-token-auth'
}
