function ConvertTo-CmgBase64Url {
    <#
    .SYNOPSIS
    base64url without padding (RFC 7515 section 2) of bytes, or of a string's UTF-8 bytes.
    #>
    [CmdletBinding(DefaultParameterSetName = 'Bytes')]
    [OutputType([string])]
    param(
        [Parameter(Mandatory = $true, ParameterSetName = 'Bytes')][AllowEmptyCollection()][byte[]]$Bytes,
        [Parameter(Mandatory = $true, ParameterSetName = 'Text')][AllowEmptyString()][string]$Text
    )
    if ($PSCmdlet.ParameterSetName -eq 'Text') {
        $Bytes = (New-Object -TypeName System.Text.UTF8Encoding -ArgumentList $false).GetBytes($Text)
    }
    [System.Convert]::ToBase64String($Bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_')
}
