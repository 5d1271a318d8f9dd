function Assert-CmgRegistrationToken {
    <#
    .SYNOPSIS
    Refuses, before any key is made or anything is sent, what cannot be a bulk registration
    token (a compact JWS: three base64url segments). The value itself is never shown.
    #>
    [CmdletBinding()]
    param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Token)
    if ($Token -notmatch '^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$') {
        throw (New-CmgErrorRecord -Code 'invalid_registration_token' -Detail ('-RegistrationToken is not a bulk registration token (three base64url parts separated by dots; {0} characters given); copy it whole from cmg-admin tokens new or the console' -f $Token.Length))
    }
}
