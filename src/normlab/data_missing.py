"""The one error every data-prep path raises when a raw file is absent: a single line naming the file and its remedy."""


class DataMissingError(RuntimeError):
    pass
