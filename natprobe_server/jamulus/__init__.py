"""The Jamulus directory emulation: registrations, keep-alives and the hole punch."""
