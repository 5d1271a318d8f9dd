function ConvertTo-CmgErrorRecord {
    <#
    .SYNOPSIS
    Turns whatever a public function caught into an ErrorRecord of this module.
    .DESCRIPTION
    A refusal already built by New-CmgErrorRecord passes through unchanged; anything else (a
    .NET exception from the key store, say) becomes 'CmgTokenAuth.unexpected' with its message,
    so a script still has one id prefix to switch on.
    #>
    [CmdletBinding()]
    [OutputType([System.Management.Automation.ErrorRecord])]
    param([Parameter(Mandatory = $true)][System.Management.Automation.ErrorRecord]$ErrorRecord)
    if ($ErrorRecord.FullyQualifiedErrorId -like 'CmgTokenAuth.*') {
        return $ErrorRecord
    }
    New-CmgErrorRecord -Code 'unexpected' -Detail $ErrorRecord.Exception.Message -Category $ErrorRecord.CategoryInfo.Category -InnerException $ErrorRecord.Exception
}
