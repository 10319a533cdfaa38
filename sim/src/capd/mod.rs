//! CAPD: the Docker infrastructure provider's controllers.
